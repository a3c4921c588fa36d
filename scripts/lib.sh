# scripts/lib.sh - shared functions of scripts/up and scripts/test.
#
# Source it from bash (it sets no shell options of its own):
#   parley_install_deps                 install missing Debian packages
#   parley_build [CONFIGURE-ARGS...]    autoreconf (if needed), configure, make
#   parley_build_copy DIR [CONFIGURE-ARGS...]
#                                       a second build in DIR (VPATH) of a
#                                       copy of the sources (--enable-sanitizers)
#   parley_stack_start STATE_DIR SET    start PostgreSQL, lighttpd + parley-ws
#                                       and Pushpin on 127.0.0.1 ("dev" or
#                                       "test" port set), state in STATE_DIR
#   parley_stack_stop STATE_DIR         stop everything started for STATE_DIR
#   parley_stack_wipe STATE_DIR         stop, then delete STATE_DIR and its
#                                       fallback directories
#
# After parley_stack_start the PARLEY_STACK_* variables (URLs, ports) are set
# and also written to STATE_DIR/stack.env. Runs as root on Debian 12; needs
# no systemd. Every wait is bounded.
#
# PARLEY_WORKERS (default 8) is the number of parley-ws processes under
# lighttpd; PARLEY_PG_CONF, more postgresql.conf lines (e.g. for a
# profile: shared_preload_libraries = 'pg_stat_statements').
#
# PARLEY_BUILD_DIR (default: the checkout) is the build whose src/parley-ws,
# src/parley-migrate and src/parley-expire a stack runs; a relative path is
# taken from the checkout. scripts/test sets it to build-asan for its
# sanitizer run. When that parley-ws is built with ASan/UBSan, the workers
# get ASAN_OPTIONS/UBSAN_OPTIONS that write any report to STATE/log/asan.PID
# (UBSan's, in GCC's builds, go to lighttpd.log all the same).

# runuser, useradd and lighttpd live in /usr/sbin.
case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin:/sbin ;;
esac

PARLEY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# libssl-dev (libcrypto, for configure) also comes with libpq-dev; named
# here because configure checks for it. clang and libclang-rt-14-dev
# (libFuzzer) build scripts/fuzz's targets; valgrind runs the unit tests.
PARLEY_PACKAGES=(build-essential autoconf automake pkg-config libfcgi-dev
	libcjson-dev uuid-dev libpq-dev libssl-dev libzmq3-dev postgresql
	lighttpd nginx pushpin node-ws python3-websockets curl clang
	libclang-rt-14-dev valgrind)

# The system user that owns the throwaway PostgreSQL clusters (PostgreSQL
# refuses to run as root).
PARLEY_PG_USER=parley
# The system user the workers switch to (run_as_user): not root, and not
# the owner of the database files either.
PARLEY_WORKER_USER=parley-ws

parley__worker_user() {
	if ! id -u "$PARLEY_WORKER_USER" >/dev/null 2>&1; then
		parley_say "creating system user $PARLEY_WORKER_USER (runs parley-ws)"
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$PARLEY_WORKER_USER" || return 1
	fi
}

parley_say() { printf '[parley] %s\n' "$*"; }
parley_err() { printf '[parley] ERROR: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Packages

parley__pkg_installed() {
	local st
	st=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	case "$st" in
	*" installed") return 0 ;;
	esac
	return 1
}

parley_install_deps() {
	local p missing=() made_policy=0 rc=0
	local apt_opts=(-q -y -o DPkg::Lock::Timeout=300
		-o Dpkg::Options::=--force-confdef
		-o Dpkg::Options::=--force-confold)

	for p in "${PARLEY_PACKAGES[@]}"; do
		parley__pkg_installed "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		parley_err "missing packages (${missing[*]}); run as root"
		return 1
	fi
	parley_say "installing Debian packages: ${missing[*]}"
	# Keep the packages' own services (postgresql "main" on 5432,
	# lighttpd on 80, pushpin on 7999/5560-5563) from starting:
	# invoke-rc.d and deb-systemd-invoke honour policy-rc.d.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# parley: no service starts while installing\nexit 101\n' \
			>/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d &&
			made_policy=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update &&
		DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install \
			"${missing[@]}" || rc=$?
	if [ "$made_policy" = 1 ]; then
		rm -f /usr/sbin/policy-rc.d
	fi
	if [ "$rc" != 0 ]; then
		parley_err "apt-get failed (status $rc)"
		return 1
	fi
	parley__stop_system_services "${missing[@]}"
}

# Stop (and on systemd machines disable) the system services of packages
# just installed, in case something started them despite policy-rc.d:
# Debian's pushpin would hold 7999 and 5560-5563, the "dev" ports. The
# init scripts' stop acts only on their own pid files, never on our
# stacks (their "status" would match any pushpin, so it is not used).
parley__stop_system_services() {
	local svc pkg stopped=()
	for pkg in "$@"; do
		case "$pkg" in
		pushpin | lighttpd | postgresql) svc=$pkg ;;
		*) continue ;;
		esac
		if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
			systemctl stop "$svc" >/dev/null 2>&1 || true
			if [ "$svc" = pushpin ]; then
				systemctl disable pushpin >/dev/null 2>&1 || true
			fi
		elif [ -x "/etc/init.d/$svc" ]; then
			timeout 60 "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
		fi
		stopped+=("$svc")
	done
	if [ ${#stopped[@]} -gt 0 ]; then
		parley_say "system services ${stopped[*]}: stopped if running (we run our own)"
	fi
}

# ---------------------------------------------------------------------------
# Build

parley_build() {
	(
		cd "$PARLEY_ROOT" || exit 1
		if [ ! -x configure ] || [ configure -ot configure.ac ] ||
			[ configure -ot Makefile.am ]; then
			parley_say "autoreconf -fi"
			mkdir -p m4 && autoreconf -fi || exit 1
		fi
		parley_say "./configure $*"
		./configure -q "$@" || exit 1
		parley_say "make -j2"
		make -j2 || exit 1
	)
}

# parley_build_copy DIR [CONFIGURE-ARGS...]: a second build, configured
# with CONFIGURE-ARGS, in DIR (relative to the checkout). The checkout is
# configured in place (parley_build), and automake refuses a VPATH build
# of a configured source tree (its objects would be found through VPATH),
# so the build reads a copy of the sources: `make distdir` (what make
# distcheck builds) into DIR-src. DIR and DIR-src are made anew on every
# call (a full build: seconds). Needs a configured checkout.
parley_build_copy() {
	local dir=${1:?usage: parley_build_copy DIR [CONFIGURE-ARGS...]}
	shift
	(
		cd "$PARLEY_ROOT" || exit 1
		case "$dir" in /*) ;; *) dir=$PARLEY_ROOT/$dir ;; esac
		parley_say "copying the sources to $dir-src (make distdir)"
		rm -rf "$dir" "$dir-src" && mkdir -p "$dir" || exit 1
		make -s distdir distdir="$dir-src" top_distdir="$dir-src" \
			>/dev/null || exit 1
		cd "$dir" || exit 1
		parley_say "$dir: configure $*"
		"$dir-src/configure" -q "$@" || exit 1
		parley_say "$dir: make -j2"
		make -j2 || exit 1
	)
}

# ---------------------------------------------------------------------------
# Small helpers

# The build whose binaries a stack runs (PARLEY_BUILD_DIR, absolute).
parley__build_dir() {
	local d=${PARLEY_BUILD_DIR:-$PARLEY_ROOT}
	case "$d" in /*) ;; *) d=$PARLEY_ROOT/$d ;; esac
	printf '%s\n' "$d"
}

# True if something accepts TCP connections on 127.0.0.1:PORT.
parley__port_open() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

# True if process PID exists and is not a zombie (PID 1 of a container
# may reap orphans late).
parley__pid_alive() {
	local st
	[ -n "${1:-}" ] || return 1
	st=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

parley__read_pid() {
	local pid=""
	[ -f "$1" ] && read -r pid <"$1" 2>/dev/null
	case "$pid" in
	'' | *[!0-9]*) return 1 ;;
	esac
	printf '%s\n' "$pid"
}

parley__hash() {
	printf '%s' "$1" | sha256sum | cut -c1-12
}

# Escape a value for the replacement part of sed s|...|...|.
parley__sed_escape() {
	printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# parley__fill TEMPLATE OUTPUT NAME=VALUE... : replace @NAME@ with VALUE.
parley__fill() {
	local in=$1 out=$2 kv args=()
	shift 2
	for kv in "$@"; do
		args+=(-e "s|@${kv%%=*}@|$(parley__sed_escape "${kv#*=}")|g")
	done
	sed "${args[@]}" "$in" >"$out.tmp" || return 1
	if grep -v '^[[:space:]]*#' "$out.tmp" | grep '@[A-Z_]*@' >&2; then
		parley_err "$out: unfilled placeholders (above)"
		return 1
	fi
	mv "$out.tmp" "$out"
}

# Print the last lines of every log of a stack.
parley_stack_logs() {
	local f lines=${2:-40}
	for f in "$1"/log/*.log; do
		[ -s "$f" ] || continue
		printf '\n----- %s (last %s lines) -----\n' "$f" "$lines"
		tail -n "$lines" "$f"
	done
}

# The PostgreSQL bin directory (/usr/lib/postgresql/<newest version>/bin).
parley__pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$d" ] || [ ! -x "$d/pg_ctl" ]; then
		parley_err "no PostgreSQL server in /usr/lib/postgresql"
		return 1
	fi
	printf '%s\n' "$d"
}

# Run a command as the PostgreSQL user, from / (it may not be able to
# enter the current directory).
parley__as_pg() {
	(cd / && runuser -u "$PARLEY_PG_USER" -- "$@")
}

# The environment of our daemons: no PARLEY_* settings from the caller's
# shell (parley-ws would let them override STATE/parley.conf).
parley__env_clean() {
	local v
	PARLEY__ENV=(env)
	for v in $(compgen -e); do
		case "$v" in
		PARLEY_*) PARLEY__ENV+=(-u "$v") ;;
		esac
	done
}

# parley__spawn PIDFILE LOGFILE DIR CMD... : start CMD in the background
# in a new session (a Ctrl-C on the terminal does not reach it; its
# process group id is its pid), stdin from /dev/null, output appended to
# LOGFILE, working directory DIR. Writes CMD's pid to PIDFILE.
parley__spawn() {
	local pidfile=$1 logfile=$2 dir=$3 i
	shift 3
	rm -f "$pidfile" "$pidfile.tmp"
	parley__env_clean
	(
		cd "$dir" || exit 1
		exec "${PARLEY__ENV[@]}" setsid -f bash -c \
			'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
			"$pidfile" "$@"
	) </dev/null >>"$logfile" 2>&1 || return 1
	for i in $(seq 1 100); do
		[ -s "$pidfile" ] && return 0
		sleep 0.1
	done
	parley_err "$1 did not start (no $pidfile after 10 s)"
	return 1
}

# ---------------------------------------------------------------------------
# Stack layout. parley__layout STATE_DIR sets the P_* variables.

parley__layout() {
	P_STATE=$1
	P_LOG=$P_STATE/log
	P_WWW=$P_STATE/www
	P_PG=$P_STATE/pg
	# PostgreSQL's own paths are always resolved: the parley user may not
	# be able to pass through P_STATE when P_PG links to the fallback.
	P_PGDATA=$(readlink -f "$P_PG" 2>/dev/null || echo "$P_PG")/data
	# Runtime files and sockets. Unix socket paths are limited to 107
	# bytes and zmq ipc names add up to ~30 characters: fall back to a
	# short directory in /tmp when the state dir is deep.
	if [ $((${#P_STATE} + 40)) -le 100 ]; then
		P_RUN=$P_STATE/run
	else
		P_RUN=/tmp/parley-run-$(parley__hash "$P_STATE")
	fi
	P_PG_FALLBACK=/var/tmp/parley-pg-$(parley__hash "$P_STATE")
}

# ---------------------------------------------------------------------------
# Stopping

# parley__stop_pid PIDFILE NAME SECONDS: SIGTERM the process (if it is
# still NAME), wait, then SIGKILL its process group.
parley__stop_pid() {
	local pidfile=$1 name=$2 secs=$3 pid comm i
	pid=$(parley__read_pid "$pidfile") || {
		rm -f "$pidfile"
		return 0
	}
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || comm=""
	if [ "$comm" = "$name" ]; then
		parley_say "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 $((secs * 5))); do
			parley__pid_alive "$pid" || break
			sleep 0.2
		done
		if parley__pid_alive "$pid"; then
			parley_say "$name did not stop in ${secs} s: SIGKILL"
			kill -KILL -- "-$pid" "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$pidfile"
}

# Processes of this stack left over from a crash: those of our programs
# whose command line, working directory or environment names the state
# directory (or its fallback directories). Prints their pids.
parley__leftovers() {
	local d pid comm cwd cmd hit paths=() p
	paths=("$P_STATE/" "$P_RUN/" "$P_PG_FALLBACK/")
	p=$(readlink -f "$P_STATE" 2>/dev/null) && paths+=("$p/")
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
		comm=$(cat "$d/comm" 2>/dev/null) || continue
		case "$comm" in
		pushpin | condure | zurl | pushpin-proxy | pushpin-handle* | \
			m2adapter | lighttpd | parley-ws | postgres | pg_ctl) ;;
		*) continue ;;
		esac
		cwd=$(readlink "$d/cwd" 2>/dev/null)/ || cwd=""
		cmd=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || cmd=""
		hit=0
		for p in "${paths[@]}"; do
			case "$cwd" in "$p"*) hit=1 ;; esac
			case "$cmd" in *"$p"* | *"${p%/} "*) hit=1 ;; esac
		done
		if [ "$hit" = 0 ] && [ "$comm" = parley-ws ] &&
			tr '\0' '\n' 2>/dev/null <"$d/environ" |
			grep -qxF "PARLEY_CONFIG=$P_STATE/parley.conf"; then
			hit=1
		fi
		if [ "$hit" = 1 ]; then
			echo "$pid"
		fi
	done
	return 0
}

parley_stack_stop() {
	local state=${1:?usage: parley_stack_stop STATE_DIR} owner bindir
	local pid i pids
	[ -d "$state" ] || return 0
	state=$(cd "$state" && pwd) || return 1
	parley__layout "$state"

	# A foreground scripts/up owns this stack: let it stop it and exit.
	if owner=$(parley__read_pid "$P_RUN/up.pid") && [ "$owner" != "$$" ] &&
		parley__pid_alive "$owner" &&
		tr '\0' ' ' 2>/dev/null <"/proc/$owner/cmdline" | grep -q 'scripts/up'; then
		parley_say "asking scripts/up (pid $owner) to stop its stack"
		kill -TERM "$owner" 2>/dev/null || true
		for i in $(seq 1 150); do
			parley__pid_alive "$owner" || break
			sleep 0.2
		done
	fi
	rm -f "$P_RUN/up.pid"

	# Pushpin first (its runner stops condure, zurl, proxy and handler),
	# then lighttpd (it stops its parley-ws workers), then PostgreSQL.
	parley__stop_pid "$P_RUN/expire.pid" bash 5
	parley__stop_pid "$P_RUN/pushpin.pid" pushpin 15
	parley__stop_pid "$P_RUN/lighttpd.pid" lighttpd 15
	parley__stop_pid "$P_RUN/nginx.pid" nginx 15
	parley__stop_pid "$P_RUN/parley-ws-nginx.pid" parley-ws 15

	if [ -f "$P_PGDATA/postmaster.pid" ]; then
		pid=$(parley__read_pid "$P_PGDATA/postmaster.pid") || pid=""
		if parley__pid_alive "$pid" &&
			[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] &&
			bindir=$(parley__pg_bindir); then
			parley_say "stopping PostgreSQL (pid $pid)"
			parley__as_pg "$bindir/pg_ctl" -D "$P_PGDATA" -s -m fast \
				-w -t 30 stop ||
				parley__as_pg "$bindir/pg_ctl" -D "$P_PGDATA" -s \
					-m immediate -w -t 30 stop || true
		fi
	fi

	# Whatever survived (a crash, a kill -9 of the parents).
	pids=$(parley__leftovers | tr '\n' ' ')
	if [ -n "${pids// /}" ]; then
		parley_say "stopping leftover processes of $state: $pids"
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		for i in $(seq 1 25); do
			pids=$(for pid in $pids; do
				if parley__pid_alive "$pid"; then echo "$pid"; fi
			done | tr '\n' ' ')
			[ -z "${pids// /}" ] && break
			sleep 0.2
		done
		if [ -n "${pids// /}" ]; then
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
			sleep 0.5
		fi
	fi

	# Stale files: a dead postmaster's lock file, sockets, pid files.
	if [ -f "$P_PGDATA/postmaster.pid" ]; then
		pid=$(parley__read_pid "$P_PGDATA/postmaster.pid") || pid=""
		if ! parley__pid_alive "$pid" ||
			[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" != \
				"$(readlink -f "$P_PGDATA")" ]; then
			rm -f "$P_PGDATA/postmaster.pid"
		fi
	fi
	if [ -d "$P_RUN" ]; then
		rm -f "$P_RUN"/pushpin-* "$P_RUN"/parley-ws.sock* "$P_RUN"/*.pid
	fi
	return 0
}

# Delete the directories a (stopped) stack keeps outside STATE_DIR: the
# PostgreSQL cluster in /var/tmp and the run dir in /tmp, if it has them.
parley_stack_drop_fallbacks() {
	local state=${1:?usage: parley_stack_drop_fallbacks STATE_DIR}
	[ -d "$state" ] || return 0
	state=$(cd "$state" && pwd) || return 1
	parley__layout "$state"
	if [ -L "$P_PG" ]; then
		rm -f "$P_PG"
		# Keep the server log with the other logs.
		if [ -L "$P_LOG/postgresql.log" ]; then
			cp "$P_PG_FALLBACK/postgresql.log" "$P_LOG/postgresql.log.tmp" 2>/dev/null &&
				mv -f "$P_LOG/postgresql.log.tmp" "$P_LOG/postgresql.log"
		fi
	fi
	# Keep the workers' sanitizer reports with the logs too.
	if [ -L "$P_LOG/sanitizer" ]; then
		rm -f "$P_LOG/sanitizer"
		cp -r "$(parley__san_fallback)" "$P_LOG/sanitizer" 2>/dev/null ||
			true
	fi
	rm -rf "$P_PG_FALLBACK" "/tmp/parley-run-$(parley__hash "$P_STATE")" \
		"$(parley__san_fallback)"
}

# Stop the stack and delete its state, including fallback directories.
parley_stack_wipe() {
	local state=${1:?usage: parley_stack_wipe STATE_DIR}
	[ -e "$state" ] || return 0
	parley_stack_stop "$state" || return 1
	parley_stack_drop_fallbacks "$state" || return 1
	rm -rf "$state"
}

# ---------------------------------------------------------------------------
# Starting

# parley__wait_for SECONDS DESCRIPTION PIDFILE-OR-"" COMMAND... : run
# COMMAND every 0.5 s until it succeeds (0), the process in PIDFILE dies
# (1) or SECONDS pass (1). At most SECONDS * 2 tries in any case.
parley__wait_for() {
	local secs=$1 what=$2 pidfile=$3 i pid deadline
	shift 3
	deadline=$((SECONDS + secs))
	for i in $(seq 1 $((secs * 2))); do
		if "$@"; then
			return 0
		fi
		if [ -n "$pidfile" ]; then
			pid=$(parley__read_pid "$pidfile") || pid=""
			if ! parley__pid_alive "$pid"; then
				parley_err "$what: the process exited"
				return 1
			fi
		fi
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.5
	done
	parley_err "$what: not ready after $secs s"
	return 1
}

# An HTTP GET of URL answers with HTTP status CODE.
parley__http_status_is() {
	local got
	got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$2") || true
	[ "$got" = "$1" ]
}

parley__start_postgres() {
	local bindir sock log marker
	bindir=$(parley__pg_bindir) || return 1
	if ! id -u "$PARLEY_PG_USER" >/dev/null 2>&1; then
		parley_say "creating system user $PARLEY_PG_USER (runs PostgreSQL)"
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$PARLEY_PG_USER" || return 1
	fi

	# The data directory must be reachable by the parley user. It is not
	# when the checkout is under a 0700 directory (mktemp -d): then keep
	# the cluster in /var/tmp and link it.
	log=$P_LOG/postgresql.log
	if [ ! -L "$P_PG" ] && [ ! -d "$P_PG" ] &&
		! parley__as_pg test -x "$P_LOG" 2>/dev/null; then
		parley_say "user $PARLEY_PG_USER cannot reach $P_STATE: PostgreSQL data in $P_PG_FALLBACK (linked as $P_PG)"
		mkdir -p "$P_PG_FALLBACK" && ln -sfn "$P_PG_FALLBACK" "$P_PG" ||
			return 1
	fi
	if [ -L "$P_PG" ]; then
		mkdir -p "$(readlink "$P_PG")" || return 1
		log=$(readlink -f "$P_PG")/postgresql.log
		ln -sfn "$log" "$P_LOG/postgresql.log" || return 1
	fi
	mkdir -p "$P_PG" || return 1
	P_PGDATA=$(readlink -f "$P_PG")/data
	chown "$PARLEY_PG_USER:" "$(readlink -f "$P_PG")" &&
		chmod 700 "$(readlink -f "$P_PG")" || return 1
	touch "$log" && chown "$PARLEY_PG_USER:" "$log" || return 1

	marker=$P_PG/initialized
	if [ ! -f "$marker" ]; then
		rm -rf "$P_PGDATA"
		parley_say "initdb $P_PGDATA"
		parley__as_pg "$bindir/initdb" -D "$P_PGDATA" -U "$PARLEY_PG_USER" \
			-A trust -E UTF8 --no-locale --no-sync \
			>"$P_LOG/initdb.log" 2>&1 || {
			parley_err "initdb failed:"
			cat "$P_LOG/initdb.log" >&2
			return 1
		}
		printf "\n# Added by scripts/lib.sh: this stack's settings.\ninclude = 'parley-stack.conf'\n" \
			>>"$P_PGDATA/postgresql.conf" || return 1
		touch "$marker"
	fi

	# Socket directory inside the cluster's directory when the path fits
	# (".s.PGSQL.NNNNN.lock" included), else TCP only.
	sock=$(readlink -f "$P_PG")/sock
	if [ $((${#sock} + 24)) -le 107 ]; then
		mkdir -p "$sock" && chown "$PARLEY_PG_USER:" "$sock" || return 1
	else
		sock=""
	fi
	# Rewritten on every start (ports may differ). Full durability:
	# fsync, synchronous_commit and full_page_writes stay on.
	cat >"$P_PGDATA/parley-stack.conf" <<EOF || return 1
# Generated by scripts/lib.sh on every start of the stack; do not edit.
listen_addresses = '127.0.0.1'
port = $P_PG_PORT
unix_socket_directories = '$sock'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
${PARLEY_PG_CONF:+# From PARLEY_PG_CONF:
$PARLEY_PG_CONF}
EOF
	chown "$PARLEY_PG_USER:" "$P_PGDATA/parley-stack.conf" || return 1

	parley_say "starting PostgreSQL on 127.0.0.1:$P_PG_PORT"
	if ! parley__as_pg "$bindir/pg_ctl" -D "$P_PGDATA" -l "$log" -s -w \
		-t 60 start; then
		parley_err "PostgreSQL did not start:"
		tail -n 30 "$log" >&2
		return 1
	fi
	parley__wait_for 30 "PostgreSQL on port $P_PG_PORT" "" \
		"$bindir/pg_isready" -q -h 127.0.0.1 -p "$P_PG_PORT" -t 2 \
		-U "$PARLEY_PG_USER" -d postgres ||
		return 1

	local psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1
		-p "$P_PG_PORT" -U "$PARLEY_PG_USER")
	if [ "$("${psql[@]}" -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'parley'")" != 1 ]; then
		parley_say "creating database parley"
		"${psql[@]}" -d postgres -c 'CREATE DATABASE parley' || return 1
	fi
	P_PG_BINDIR=$bindir
}

parley__write_parley_conf() {
	{
		echo "# Generated by scripts/lib.sh on every start; do not edit."
		echo "# Format and defaults: lighttpd/parley.conf.sample."
		# The workers' login user has only parley_worker's grants
		# (sql/002_roles.sql); parley-migrate runs as the owner.
		echo "database_url = $P_WORKER_DATABASE_URL"
		echo "publish_spec = tcp://127.0.0.1:$P_PUSH_PORT"
		echo "log_level = info"
		# lighttpd (root) starts the workers; they drop to this user.
		echo "run_as_user = $PARLEY_WORKER_USER"
		# Development and test stacks: anyone may connect as any userId.
		echo "auth_mode = none"
		# The key Pushpin signs Grip-Sig with: requests without it are
		# refused, so only this Pushpin can drive the workers.
		echo "grip_sig_key = $P_SIG_KEY"
		# Pushpin's command socket is ipc in our rundir (pushpin.conf.in);
		# written only if this version of the settings knows the option.
		if grep -q '^pushpin_command_spec[[:space:]]*=' \
			"$PARLEY_ROOT/lighttpd/parley.conf.sample" 2>/dev/null; then
			echo "pushpin_command_spec = ipc://$P_RUN/pushpin-command"
		fi
		if [ -n "${PARLEY_EXTRA_CONF:-}" ]; then
			echo "# From PARLEY_EXTRA_CONF:"
			printf '%s\n' "$PARLEY_EXTRA_CONF"
		fi
	} >"$P_STATE/parley.conf" || return 1
	chmod 600 "$P_STATE/parley.conf"
	# The expiry job: the same settings as its own login user, which may
	# only read and delete connection rows.
	sed "s|^database_url = .*|database_url = $P_EXPIRE_DATABASE_URL|" \
		"$P_STATE/parley.conf" >"$P_STATE/parley-expire.conf" || return 1
	chmod 600 "$P_STATE/parley-expire.conf"
	# With PARLEY_JWT_SECRET (scripts/test), a second mount /jwt/ws runs
	# the same workers in auth mode jwt with that HS256 secret.
	: >"$P_STATE/lighttpd-extra.conf"
	if [ -n "${PARLEY_JWT_SECRET:-}" ]; then
		local bin
		bin=$(parley__build_dir)/src/parley-ws
		{
			grep -v '^auth_mode' "$P_STATE/parley.conf"
			echo "auth_mode = jwt"
			echo "jwt_secret = $PARLEY_JWT_SECRET"
			echo "jwt_issuer = ${PARLEY_JWT_ISSUER:-}"
			echo "jwt_audience = ${PARLEY_JWT_AUDIENCE:-}"
		} >"$P_STATE/parley-jwt.conf" || return 1
		chmod 600 "$P_STATE/parley-jwt.conf"
		cat >"$P_STATE/lighttpd-extra.conf" <<EOF
# Generated by scripts/lib.sh: the workers in auth mode jwt, at /jwt/ws.
fastcgi.server += (
  "/jwt/ws" => ((
    "bin-path" => "$bin",
    "socket" => "$P_RUN/parley-ws-jwt.sock",
    "check-local" => "disable",
    "max-procs" => 1,
    "bin-environment" => ( "PARLEY_CONFIG" => "$P_STATE/parley-jwt.conf"$P_WORKER_ENV ),
  )),
)
EOF
	fi
}

# The Grip-Sig key of a state dir: made at its first start, then kept.
parley__sig_key() {
	if [ ! -s "$P_STATE/sig_key" ]; then
		(umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' \
			>"$P_STATE/sig_key") || return 1
	fi
	P_SIG_KEY=$(cat "$P_STATE/sig_key")
}

parley__migrate() {
	local psql
	parley_say "applying migrations (sql/)"
	parley__env_clean
	# As the schema owner; the programs' login users come afterwards.
	if ! "${PARLEY__ENV[@]}" PARLEY_DATABASE_URL="$P_DATABASE_URL" \
		"$(parley__build_dir)/src/parley-migrate" \
		--config "$P_STATE/parley.conf" --dir "$PARLEY_ROOT/sql" \
		>>"$P_LOG/migrate.log" 2>&1; then
		parley_err "parley-migrate failed:"
		tail -n 20 "$P_LOG/migrate.log" >&2
		return 1
	fi
	# Login users in the group roles of sql/002_roles.sql (no password:
	# this throwaway cluster trusts 127.0.0.1).
	psql=("$P_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$P_DATABASE_URL")
	"${psql[@]}" >>"$P_LOG/migrate.log" 2>&1 <<'SQL' || {
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parley_ws') THEN
        CREATE ROLE parley_ws LOGIN IN ROLE parley_worker;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parley_job') THEN
        CREATE ROLE parley_job LOGIN IN ROLE parley_expire;
    END IF;
END
$$;
SQL
		parley_err "creating the login users failed:"
		tail -n 20 "$P_LOG/migrate.log" >&2
		return 1
	}
}

# P_WORKER_ENV: more "NAME" => "VALUE" pairs for the workers'
# bin-environment (each after a comma), or ""; P_WORKER_ENV_ARGS: the
# same as NAME=VALUE words for env(1) (parley-ws --listen under nginx).
# A parley-ws built with --enable-sanitizers writes its ASan reports to
# STATE/log/asan.PID, which scripts/test looks for: a worker's stderr goes
# to lighttpd's log, mixed with everything else, or is lost. The workers
# switch to PARLEY_WORKER_USER: when that user cannot write there (a
# checkout under a 0700 directory, such as mktemp -d), the reports go to
# a directory in /var/tmp instead, linked as STATE/log/sanitizer (and
# copied there by parley_stack_drop_fallbacks). (UBSan's
# log_path works in clang builds only; GCC's libubsan next to libasan
# writes to stderr, and scripts/test looks for its "runtime error:" lines
# in the logs.)
# detect_leaks=0: LeakSanitizer reports only when a process exits, and a
# worker exits only when it is stopped with SIGTERM (no report, checked)
# or, were it to exit normally, with whatever it still holds at that
# moment (its database connection, libzmq's context), which says nothing
# about a request. Leaks are checked where processes exit normally: the
# unit tests, parley-migrate and parley-expire (scripts/test).
# abort_on_error: a report ends the worker at once, so the request fails.
parley__worker_env() {
	local bin dir=$P_LOG asan ubsan
	bin=$(parley__build_dir)/src/parley-ws
	P_WORKER_ENV=
	P_WORKER_ENV_ARGS=()
	if ! ldd "$bin" 2>/dev/null | grep -Eq 'lib(asan|ubsan)\.'; then
		return 0
	fi
	if ! runuser -u "$PARLEY_WORKER_USER" -- test -w "$P_LOG" 2>/dev/null; then
		dir=$(parley__san_fallback)
		rm -rf "$dir" && mkdir -p "$dir" &&
			chown "$PARLEY_WORKER_USER:" "$dir" &&
			ln -sfn "$dir" "$P_LOG/sanitizer" || return 1
	fi
	asan="detect_leaks=0:abort_on_error=1:log_path=$dir/asan"
	ubsan="print_stacktrace=1:halt_on_error=1:log_path=$dir/ubsan"
	P_WORKER_ENV=", \"ASAN_OPTIONS\" => \"$asan\", \"UBSAN_OPTIONS\" => \"$ubsan\""
	P_WORKER_ENV_ARGS=("ASAN_OPTIONS=$asan" "UBSAN_OPTIONS=$ubsan")
	parley_say "$bin is built with sanitizers: the workers' ASan reports go to $dir/asan.PID"
}

# Where the workers' sanitizer reports go when they cannot write to log/.
parley__san_fallback() {
	printf '/var/tmp/parley-san-%s\n' "$(parley__hash "$P_STATE")"
}

parley__start_lighttpd() {
	local conf=$P_STATE/lighttpd.conf fds
	fds=$(ulimit -Hn)
	case "$fds" in
	unlimited) fds=8192 ;;
	'' | *[!0-9]*) fds=1024 ;;
	esac
	[ "$fds" -le 8192 ] || fds=8192
	parley__fill "$PARLEY_ROOT/lighttpd/lighttpd.conf.in" "$conf" \
		"HTTP_PORT=$P_HTTP_PORT" "STATE_DIR=$P_STATE" "RUN_DIR=$P_RUN" \
		"PARLEY_WS=$(parley__build_dir)/src/parley-ws" "MAX_FDS=$fds" \
		"WORKER_ENV=$P_WORKER_ENV" "WORKERS=${PARLEY_WORKERS:-8}" \
		"MAX_CONNS=$((fds / 2))" || return 1
	if ! lighttpd -tt -f "$conf" >"$P_LOG/lighttpd-check.log" 2>&1; then
		parley_err "lighttpd -tt -f $conf failed:"
		cat "$P_LOG/lighttpd-check.log" >&2
		return 1
	fi
	parley_say "starting lighttpd on 127.0.0.1:$P_HTTP_PORT (parley-ws at /ws)"
	parley__spawn "$P_RUN/lighttpd.pid" "$P_LOG/lighttpd.log" "$P_STATE" \
		lighttpd -D -f "$conf" || return 1
	# A plain GET reaches a worker, which answers 400 ("connect with a
	# WebSocket client"): lighttpd and the workers are up.
	if ! parley__wait_for 30 "lighttpd on port $P_HTTP_PORT" \
		"$P_RUN/lighttpd.pid" parley__http_status_is 400 "$P_LIGHTTPD_URL"; then
		tail -n 30 "$P_LOG/lighttpd.log" >&2
		return 1
	fi
}

parley__pushpin_ready() {
	parley__port_open "$P_WS_PORT" && parley__port_open "$P_PUSH_PORT" &&
		parley__port_open "$P_PUBLISH_PORT" &&
		parley__http_status_is 400 "http://127.0.0.1:$P_WS_PORT/ws"
}

parley__start_pushpin() {
	local key=$P_SIG_KEY
	parley__fill "$PARLEY_ROOT/lighttpd/routes.in" "$P_STATE/routes" \
		"HTTP_PORT=$P_HTTP_PORT" "NGINX_PORT=$((P_HTTP_PORT + 1))" ||
		return 1
	parley__fill "$PARLEY_ROOT/lighttpd/pushpin.conf.in" \
		"$P_STATE/pushpin.conf" "RUN_DIR=$P_RUN" "LOG_DIR=$P_LOG" \
		"WS_PORT=$P_WS_PORT" "PUSH_PORT=$P_PUSH_PORT" \
		"PUBLISH_PORT=$P_PUBLISH_PORT" "ROUTES_FILE=$P_STATE/routes" \
		"SIG_KEY=$key" || return 1
	chmod 600 "$P_STATE/pushpin.conf"
	parley_say "starting Pushpin on 127.0.0.1:$P_WS_PORT (publish: zmq $P_PUSH_PORT, http $P_PUBLISH_PORT)"
	parley__spawn "$P_RUN/pushpin.pid" "$P_LOG/pushpin.log" "$P_STATE" \
		pushpin --config "$P_STATE/pushpin.conf" --merge-output ||
		return 1
	# "started" in its log only means spawned: wait until the client port
	# and both publish inputs accept connections and a request goes
	# through pushpin-proxy, zurl and lighttpd to a worker.
	if ! parley__wait_for 30 "Pushpin" "$P_RUN/pushpin.pid" \
		parley__pushpin_ready; then
		tail -n 40 "$P_LOG/pushpin.log" >&2
		return 1
	fi
}

# Move the logs of the previous run to log/previous/ (one generation).
parley__rotate_logs() {
	local f
	[ -d "$P_LOG" ] || return 0
	rm -rf "$P_LOG/previous" && mkdir -p "$P_LOG/previous" || return 1
	for f in "$P_LOG"/*.log "$P_LOG"/asan.* "$P_LOG"/ubsan.*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		if [ -L "$f" ]; then
			# postgresql.log linked to a fallback directory.
			cp "$f" "$P_LOG/previous/" 2>/dev/null || true
			if [ -e "$f" ]; then : >"$f"; fi
		else
			mv -f "$f" "$P_LOG/previous/" || return 1
		fi
	done
	# The workers' sanitizer reports (parley__worker_env).
	if [ -L "$P_LOG/sanitizer" ]; then
		cp -r "$P_LOG/sanitizer/." "$P_LOG/previous/sanitizer" \
			2>/dev/null || true
		rm -f "$P_LOG/sanitizer"
	elif [ -d "$P_LOG/sanitizer" ]; then
		mv -f "$P_LOG/sanitizer" "$P_LOG/previous/" || return 1
	fi
}

parley_stack_start() {
	local state=${1:?usage: parley_stack_start STATE_DIR dev|test}
	local set=${2:-dev} p ports
	case "$set" in
	dev) ports=(7999 8180 55432 5560 5561) ;;
	test) ports=(17999 18180 55433 15560 15561) ;;
	*)
		parley_err "unknown port set '$set' (dev or test)"
		return 1
		;;
	esac
	if [ "$(id -u)" != 0 ]; then
		parley_err "run as root"
		return 1
	fi
	P_WS_PORT=${PARLEY_WS_PORT:-${ports[0]}}
	P_HTTP_PORT=${PARLEY_HTTP_PORT:-${ports[1]}}
	P_PG_PORT=${PARLEY_PG_PORT:-${ports[2]}}
	P_PUSH_PORT=${PARLEY_PUSH_PORT:-${ports[3]}}
	P_PUBLISH_PORT=${PARLEY_PUBLISH_PORT:-${ports[4]}}
	ports=("$P_WS_PORT" "$P_HTTP_PORT" "$P_PG_PORT" "$P_PUSH_PORT"
		"$P_PUBLISH_PORT")
	for p in "${ports[@]}"; do
		case "$p" in
		'' | *[!0-9]*)
			parley_err "bad port '$p'"
			return 1
			;;
		esac
	done
	if [ "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)" != 5 ]; then
		parley_err "the five ports must differ: ${ports[*]}"
		return 1
	fi

	mkdir -p "$state" && state=$(cd "$state" && pwd) || return 1
	parley__layout "$state"
	P_DATABASE_URL=postgresql://$PARLEY_PG_USER@127.0.0.1:$P_PG_PORT/parley
	P_WORKER_DATABASE_URL=postgresql://parley_ws@127.0.0.1:$P_PG_PORT/parley
	P_EXPIRE_DATABASE_URL=postgresql://parley_job@127.0.0.1:$P_PG_PORT/parley
	P_LIGHTTPD_URL=http://127.0.0.1:$P_HTTP_PORT/ws

	# Stop whatever an earlier run of this state dir left behind, and keep
	# its logs in log/previous/.
	parley_stack_stop "$P_STATE" || return 1
	parley__rotate_logs || return 1

	for p in "${ports[@]}"; do
		if parley__port_open "$p"; then
			parley_err "127.0.0.1:$p is already in use:"
			if command -v ss >/dev/null; then
				ss -ltnpH "sport = :$p" >&2 || true
			fi
			return 1
		fi
	done

	mkdir -p "$P_LOG" "$P_RUN" "$P_WWW" || return 1
	chmod 755 "$P_STATE" "$P_LOG" && chmod 700 "$P_RUN" || return 1
	# The workers run as PARLEY_WORKER_USER: a sanitizer build's reports
	# (log_path in log/) must be writable for them.
	parley__worker_user || return 1
	chgrp "$PARLEY_WORKER_USER" "$P_LOG" && chmod 775 "$P_LOG" || return 1
	parley_say "starting the $set stack in $P_STATE"

	parley__start_postgres || return 1
	parley__sig_key || return 1
	parley__worker_env || return 1
	parley__write_parley_conf || return 1
	parley__migrate || return 1
	parley__start_lighttpd || return 1
	parley__start_pushpin || return 1
	if [ -n "${PARLEY_NGINX:-}" ]; then
		parley__start_nginx || return 1
	fi

	PARLEY_STACK_STATE=$P_STATE
	PARLEY_STACK_SET=$set
	PARLEY_STACK_WS_URL=ws://127.0.0.1:$P_WS_PORT/ws
	PARLEY_STACK_DATABASE_URL=$P_DATABASE_URL
	PARLEY_STACK_PUBLISH_URL=http://127.0.0.1:$P_PUBLISH_PORT/publish/
	PARLEY_STACK_PUSH_SPEC=tcp://127.0.0.1:$P_PUSH_PORT
	PARLEY_STACK_LIGHTTPD_URL=$P_LIGHTTPD_URL
	PARLEY_STACK_NGINX_WS_URL=${PARLEY_NGINX:+ws://127.0.0.1:$P_WS_PORT/nginx/ws}
	PARLEY_STACK_PG_BINDIR=$P_PG_BINDIR
	{
		echo "# Written by scripts/lib.sh when the stack started."
		for p in STATE SET WS_URL DATABASE_URL PUBLISH_URL PUSH_SPEC \
			LIGHTTPD_URL NGINX_WS_URL PG_BINDIR; do
			p=PARLEY_STACK_$p
			printf '%s=%q\n' "$p" "${!p}"
		done
	} >"$P_STATE/stack.env"
	parley_say "the $set stack is up"
}

# ---------------------------------------------------------------------------
# The expiry job on schedule (scripts/up): parley-expire --reconcile every
# minute, one summary line per run in STATE/log/expire.log.
parley_expire_loop_start() {
	local state=${1:?usage: parley_expire_loop_start STATE_DIR}
	state=$(cd "$state" && pwd) || return 1
	parley__layout "$state"
	parley__spawn "$P_RUN/expire.pid" "$P_LOG/expire.log" "$P_STATE" \
		bash -c 'while :; do "$0" --config "$1" --reconcile; sleep 60; done' \
		"$(parley__build_dir)/src/parley-expire" "$P_STATE/parley-expire.conf"
}

# Stops or starts one service of a running stack (the integration tests
# use it through scripts/stackctl to test failures).
parley_stack_ctl() {
	local state=${1:?usage: parley_stack_ctl STATE_DIR ACTION} action=$2
	local bindir pid i port
	state=$(cd "$state" && pwd) || return 1
	parley__layout "$state"
	bindir=$(parley__pg_bindir) || return 1
	port=$(sed -n 's/^http_port=127\.0\.0\.1:\([0-9]*\)$/\1/p' \
		"$P_STATE/pushpin.conf")
	case "$action" in
	pg-stop)
		parley__as_pg "$bindir/pg_ctl" -D "$P_PGDATA" -s -m fast -w \
			-t 30 stop
		;;
	pg-start)
		parley__as_pg "$bindir/pg_ctl" -D "$P_PGDATA" \
			-l "$(readlink -f "$P_LOG/postgresql.log")" -s -w -t 60 start
		;;
	pushpin-kill)
		# A crash: SIGKILL to the runner and its services, so that no
		# connection gets a DISCONNECT.
		pid=$(parley__read_pid "$P_RUN/pushpin.pid") || return 1
		kill -KILL "$pid" 2>/dev/null || true
		pkill -KILL -f "$P_STATE/pushpin.conf" 2>/dev/null || true
		pkill -KILL -f "$P_RUN" 2>/dev/null || true
		rm -f "$P_RUN/pushpin.pid"
		for i in $(seq 1 50); do
			parley__port_open "$port" || return 0
			sleep 0.2
		done
		parley_err "Pushpin's port $port is still open"
		return 1
		;;
	pushpin-start)
		rm -f "$P_RUN"/pushpin-*
		parley__spawn "$P_RUN/pushpin.pid" "$P_LOG/pushpin.log" \
			"$P_STATE" pushpin --config "$P_STATE/pushpin.conf" \
			--merge-output || return 1
		for i in $(seq 1 150); do
			if parley__http_status_is 400 "http://127.0.0.1:$port/ws"; then
				return 0
			fi
			sleep 0.2
		done
		parley_err "Pushpin did not come back on port $port"
		return 1
		;;
	*)
		parley_err "unknown action '$action'"
		return 64
		;;
	esac
}

# With PARLEY_NGINX (scripts/test): the same workers under nginx as well.
# parley-ws --listen serves FastCGI on HTTP_PORT+2 (nginx does not start
# FastCGI programs), nginx on HTTP_PORT+1 uses nginx/parley.conf.in, and
# Pushpin routes /nginx/ws there (routes.in), so the integration tests
# reach the workers through nginx at ws://127.0.0.1:WS_PORT/nginx/ws.
parley__start_nginx() {
	local nport=$((P_HTTP_PORT + 1)) fport=$((P_HTTP_PORT + 2)) d
	d=$P_STATE/nginx
	mkdir -p "$d/tmp" || return 1
	parley__fill "$PARLEY_ROOT/nginx/parley.conf.in" "$d/parley.conf" \
		"HTTP_PORT=$nport" "FCGI_ADDR=127.0.0.1:$fport" || return 1
	cat >"$d/nginx.conf" <<EOF || return 1
# Generated by scripts/lib.sh: nginx in front of parley-ws --listen.
worker_processes 1;
pid $P_RUN/nginx.pid;
error_log $P_LOG/nginx.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    fastcgi_temp_path $d/tmp/fastcgi;
    proxy_temp_path $d/tmp/proxy;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    include $d/parley.conf;
}
EOF
	parley_say "starting parley-ws --listen 127.0.0.1:$fport and nginx on 127.0.0.1:$nport"
	parley__spawn "$P_RUN/parley-ws-nginx.pid" "$P_LOG/parley-ws-nginx.log" \
		"$P_STATE" env "${P_WORKER_ENV_ARGS[@]}" \
		"$(parley__build_dir)/src/parley-ws" --config \
		"$P_STATE/parley.conf" --listen "127.0.0.1:$fport" --procs 1 ||
		return 1
	# nginx writes its own pid file (the master's); spawn records the
	# same pid since it execs in the foreground.
	parley__spawn "$P_RUN/nginx.pid.spawn" "$P_LOG/nginx.log" "$P_STATE" \
		nginx -c "$d/nginx.conf" -g 'daemon off;' || return 1
	if ! parley__wait_for 30 "nginx on port $nport" "$P_RUN/nginx.pid.spawn" \
		parley__http_status_is 400 "http://127.0.0.1:$nport/ws"; then
		tail -n 20 "$P_LOG/nginx.log" "$P_LOG/parley-ws-nginx.log" >&2
		return 1
	fi
}
