# scripts/lib.sh - start and stop Parley's stacks (scripts/up, scripts/test,
# scripts/stackctl and scripts/bench source it).
#
# Source it from bash (it sets no shell options of its own):
#   parley_install_deps                 install missing Debian packages
#   parley_install_browser_deps         playwright-core from npm, for the
#                                       browser test (tests/browser/)
#   parley_build [CONFIGURE-ARGS...]    autoreconf (if needed), configure, make
#   parley_build_copy DIR [CONFIGURE-ARGS...]
#                                       a second build in DIR (VPATH) of a
#                                       copy of the sources (--enable-sanitizers)
#   parley_stack_start STATE_DIR SET    start PostgreSQL, the parley-ws workers
#                                       behind lighttpd (or nginx) and Pushpin
#                                       on 127.0.0.1 ("dev" or "test" port
#                                       set), state in STATE_DIR
#   parley_stack_stop STATE_DIR         stop everything started for STATE_DIR
#   parley_stack_wipe STATE_DIR         stop, then delete STATE_DIR and its
#                                       fallback directories
#   parley_stack_drop_fallbacks STATE_DIR
#                                       delete those fallback directories only
#   parley_stack_logs STATE_DIR [LINES] the last lines of every log
#   parley_expire_loop_start STATE_DIR  parley-expire --reconcile every minute
#   parley_stack_ctl STATE_DIR ACTION [NODE]
#                                       stop, start or break one service
#                                       (of node NODE: pushpin-*), or
#                                       restart the stack (the actions:
#                                       see scripts/stackctl)
#
# Every configuration file of a stack is a template, rendered into the
# state dir by parley__render: lighttpd/ (lighttpd.conf.in, and the
# stack's parley-settings.conf.in and postgresql.conf.in), pushpin/
# (pushpin.conf.in, routes.in), nginx/ (nginx.conf.in, parley.conf.in)
# and pgbouncer/ (pgbouncer.ini.in, pgbouncer-users.txt.in).
# After parley_stack_start the PARLEY_STACK_* variables (URLs, ports) are
# set and also written to STATE_DIR/stack.env. Runs as root on Debian 12;
# needs no systemd. Every wait is bounded.
#
# Read from the environment, all optional:
#   PARLEY_WS_PORT PARLEY_HTTP_PORT PARLEY_PG_PORT PARLEY_PUSH_PORT
#   PARLEY_PUBLISH_PORT    ports instead of the port set's
#   PARLEY_BUILD_DIR       the build whose src/parley-ws, parley-migrate and
#                          parley-expire a stack runs (default: the checkout;
#                          a relative path is taken from the checkout)
#   PARLEY_SERVER          lighttpd (default), or nginx: nginx in front of
#                          parley-ws --listen (scripts/up --server nginx)
#   PARLEY_WORKERS         parley-ws processes (default 8; per node)
#   PARLEY_NODES           Pushpin + lighttpd sets over the one PostgreSQL
#                          (default 1, at most 9): node K>1 in STATE/nodeK,
#                          its ports 10*(K-1) above node 1's (see "Several
#                          nodes" below and in README.md)
#   PARLEY_EXTRA_CONF      more lines for the workers' settings file
#   PARLEY_PG_CONF         more postgresql.conf lines (e.g. for a profile:
#                          shared_preload_libraries = 'pg_stat_statements')
#   PARLEY_PUSHPIN_LOG_LEVEL  Pushpin's log_level (default 1)
#   PARLEY_NGINX           non-empty: nginx beside lighttpd as well (the
#                          test stack), on HTTP_PORT+1
#   PARLEY_PGBOUNCER       1: PgBouncer in transaction mode on HTTP_PORT+4,
#                          between PostgreSQL and the workers and expiry
#                          job (their settings get database_pool_mode =
#                          transaction); parley-migrate and parley-push
#                          keep connecting directly (parley__start_pgbouncer)
#   PARLEY_PGBOUNCER_POOL_SIZE  its default_pool_size (default 20)
#   PARLEY_WEBSOCKETD      1: websocketd on HTTP_PORT+6 as well, running
#                          parley-websocketd (one process per WebSocket;
#                          README, "websocketd"), and publish_spec gets
#                          postgres: so that both bridges reach each other
#   PARLEY_STACK_EXTRA     folders of more templates, ':'-separated, a
#                          relative one taken from the checkout: scripts/test
#                          adds its own wiring from tests/stack/ this way
#                          (see parley__render and tests/stack/README.md)
#   PARLEY_JWT_SECRET PARLEY_JWT_ISSUER PARLEY_JWT_AUDIENCE
#                          values for those templates (@JWT_SECRET@, ...)

# runuser, useradd and lighttpd live in /usr/sbin.
case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin:/sbin ;;
esac

PARLEY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# libssl-dev (libcrypto, for configure) also comes with libpq-dev; named
# here because configure checks for it. clang and libclang-rt-14-dev
# (libFuzzer) build scripts/fuzz's targets; valgrind runs the unit tests.
# chromium: tests/integration/test_browser.py drives the chat page in it
# (headless, through playwright-core: parley_install_browser_deps).
# pgbouncer: PARLEY_PGBOUNCER=1 puts it between the workers and PostgreSQL.
# websocketd: PARLEY_WEBSOCKETD=1 runs parley-websocketd under it.
# systemd: systemd-analyze and systemd-sysusers check the shipped units
# (tests/unit/test-deploy.sh; nothing is booted).
PARLEY_PACKAGES=(build-essential autoconf automake pkg-config libfcgi-dev
	libcjson-dev uuid-dev libpq-dev libssl-dev libzmq3-dev libcurl4-openssl-dev
	postgresql pgbouncer websocketd
	lighttpd nginx pushpin node-ws python3-websockets curl clang
	libclang-rt-14-dev valgrind chromium systemd)
# Where parley_install_browser_deps puts playwright-core (git-ignored).
PARLEY_BROWSER_DEPS=$PARLEY_ROOT/tests/browser/node_modules

# The system user that owns the throwaway PostgreSQL clusters (PostgreSQL
# refuses to run as root).
PARLEY_PG_USER=parley
# The system user the workers switch to (run_as_user): not root, and not
# the owner of the database files either.
PARLEY_WORKER_USER=parley-ws

# parley__system_user NAME WHAT: create system user NAME if missing.
parley__system_user() {
	if ! id -u "$1" >/dev/null 2>&1; then
		parley_say "creating system user $1 (runs $2)"
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$1" || return 1
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

# playwright-core, at the version tests/browser/package.json pins (its
# package-lock.json fixes the rest), from the npm registry into
# PARLEY_BROWSER_DEPS, unless that version is there already. It drives
# Debian's chromium (PARLEY_PACKAGES) and downloads no browser of its own.
parley_install_browser_deps() {
	local dir=$PARLEY_ROOT/tests/browser want have out
	want=$(sed -n 's/.*"playwright-core": *"\([^"]*\)".*/\1/p' \
		"$dir/package.json" | head -n 1)
	# (|| true: none installed yet is no error under set -e.)
	have=$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' \
		"$PARLEY_BROWSER_DEPS/playwright-core/package.json" \
		2>/dev/null || true)
	if [ -n "$want" ] && [ "$have" = "$want" ]; then
		return 0
	fi
	if ! command -v npm >/dev/null; then
		parley_err "npm is missing (it comes with the machine's Node.js)"
		return 1
	fi
	parley_say "npm ci in tests/browser (playwright-core $want)"
	out=$(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 \
		npm ci --no-audit --no-fund --ignore-scripts 2>&1) || {
		printf '%s\n' "$out" >&2
		parley_err "npm ci in $dir failed"
		return 1
	}
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
		pushpin | lighttpd | postgresql | pgbouncer) svc=$pkg ;;
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

# The files named NAME in the PARLEY_STACK_EXTRA folders, one a line.
parley__extra_files() {
	local d dirs=()
	IFS=: read -r -a dirs <<<"${PARLEY_STACK_EXTRA:-}"
	for d in "${dirs[@]}"; do
		[ -n "$d" ] || continue
		case "$d" in /*) ;; *) d=$PARLEY_ROOT/$d ;; esac
		if [ -f "$d/$1" ]; then printf '%s\n' "$d/$1"; fi
	done
}

# parley__render OUT TEMPLATE: TEMPLATE, then the file of the same name in
# each PARLEY_STACK_EXTRA folder, into OUT (mode 600), every @NAME@ of the
# array P_VAL replaced by its value outside comments ('#' lines). A
# TEMPLATE without a '/' is only a name: just the extra folders' files.
# Fails on a placeholder left unfilled.
parley__render() {
	local out=$1 f line k
	(
		umask 077
		while IFS= read -r f; do
			[ -r "$f" ] || { parley_err "no template $f"; exit 1; }
			while IFS= read -r line || [ -n "$line" ]; do
				if [[ $line == *@*@* && ! $line =~ ^[[:space:]]*# ]]; then
					for k in "${!P_VAL[@]}"; do
						line=${line//"@$k@"/"${P_VAL[$k]}"}
					done
				fi
				printf '%s\n' "$line"
			done <"$f"
		done < <(case "$2" in */*) printf '%s\n' "$2" ;; esac
			parley__extra_files "${2##*/}") >"$out.tmp"
	) || return 1
	if grep -v '^[[:space:]]*#' "$out.tmp" | grep '@[A-Z_]*@' >&2; then
		parley_err "$out: unfilled placeholders (above)"
		return 1
	fi
	mv "$out.tmp" "$out"
}

# Print the last lines of every log of a stack (and of its nodes).
parley_stack_logs() {
	local f lines=${2:-40}
	for f in "$1"/log/*.log "$1"/node[2-9]/log/*.log; do
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

# parley__spawn [--max-files] PIDFILE LOGFILE CMD... : start CMD in the
# background in a new session (a Ctrl-C on the terminal does not reach it;
# its process group id is its pid), in the state dir, stdin from
# /dev/null, output appended to LOGFILE, environment cleaned. Writes CMD's
# pid to PIDFILE. --max-files: with the open-files soft limit raised to the
# hard limit (Pushpin and the server in front of the workers: one open
# file a connection).
parley__spawn() {
	local files=keep pidfile logfile i
	if [ "$1" = --max-files ]; then
		files=max
		shift
	fi
	pidfile=$1 logfile=$2
	shift 2
	rm -f "$pidfile" "$pidfile.tmp"
	parley__env_clean
	(
		cd "$P_STATE" || exit 1
		exec "${PARLEY__ENV[@]}" setsid -f bash -c \
			'if [ "$1" = max ]; then ulimit -n "$(ulimit -Hn)" || exit 1; fi
			shift && echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
			"$pidfile" "$files" "$@"
	) </dev/null >>"$logfile" 2>&1 || return 1
	for i in $(seq 1 100); do
		[ -s "$pidfile" ] && return 0
		sleep 0.1
	done
	parley_err "$* did not start (no $pidfile after 10 s)"
	return 1
}

# parley__spawn_saved ARGS...: parley__spawn ARGS..., its arguments kept
# in PIDFILE.argv so that parley__respawn PIDFILE starts it again the
# same way (scripts/stackctl server-start under nginx).
parley__spawn_saved() {
	local pidfile=$1
	[ "$1" != --max-files ] || pidfile=$2
	printf '%s\0' "$@" >"$pidfile.argv" && parley__spawn "$@"
}

parley__respawn() {
	local args=()
	[ -f "$1.argv" ] || { parley_err "no $1.argv"; return 1; }
	mapfile -d '' -t args <"$1.argv"
	parley__spawn "${args[@]}"
}

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
	# Where the cluster and the workers' own files go when their users
	# cannot reach the state dir (a checkout under a 0700 directory).
	P_PG_FALLBACK=/var/tmp/parley-pg-$(parley__hash "$P_STATE")
	P_WORKER_FALLBACK=/var/tmp/parley-workers-$(parley__hash "$P_STATE")
	P_KEYS_FALLBACK=/var/tmp/parley-keys-$(parley__hash "$P_STATE")
}

# ---------------------------------------------------------------------------
# Several nodes (PARLEY_NODES; README, "Several nodes"). Node 1 is the
# stack itself. Node K (2..9) is one more Pushpin and one more lighttpd
# with its own workers, over the same PostgreSQL: its files in
# STATE/nodeK, laid out as a state dir of its own (parley__layout: log/,
# run/ or its /tmp fallback, pushpin.conf, routes, lighttpd.conf,
# parley.conf), rendered from the same templates; its ports (WS, HTTP,
# PUSH, PUBLISH) 10*(K-1) above node 1's, the step Pushpin's --id takes
# (our pushpin.conf names every port itself). Its Pushpin routes to its
# own lighttpd; every worker of every node publishes to every Pushpin
# (publish_spec lists them all) and the expiry job asks them all
# (pushpin_command_spec).

# The node dirs a stack has (STATE/node2 ...), one a line.
parley__node_dirs() {
	local d
	for d in "$1"/node[2-9]; do
		if [ -d "$d" ]; then printf '%s\n' "$d"; fi
	done
	return 0
}

# parley__node K: makes node K's the current stack: P_STATE, P_LOG and
# P_RUN (parley__layout of STATE/nodeK), the ports, and the placeholders
# that differ (P_VAL). Call it in a subshell, with node 1's set.
parley__node() {
	local step=$((10 * ($1 - 1)))
	parley__layout "$P_STATE/node$1"
	P_WS_PORT=$((P_WS_PORT + step)) P_HTTP_PORT=$((P_HTTP_PORT + step))
	P_PUSH_PORT=$((P_PUSH_PORT + step))
	P_PUBLISH_PORT=$((P_PUBLISH_PORT + step))
	P_VAL[STATE_DIR]=$P_STATE P_VAL[RUN_DIR]=$P_RUN P_VAL[LOG_DIR]=$P_LOG
	P_VAL[WS_PORT]=$P_WS_PORT P_VAL[HTTP_PORT]=$P_HTTP_PORT
	P_VAL[PUSH_PORT]=$P_PUSH_PORT P_VAL[PUBLISH_PORT]=$P_PUBLISH_PORT
	# Under nginx (PARLEY_SERVER=nginx) it is the node's server.
	P_NGINX_PORT=$P_HTTP_PORT P_FCGI_PORT=$((P_HTTP_PORT + 2))
	P_VAL[NGINX_PORT]=$P_NGINX_PORT P_VAL[FCGI_ADDR]=127.0.0.1:$P_FCGI_PORT
}

# P_VAL's PUBLISH_SPECS and COMMAND_SPECS: every node's Pushpin publish
# input and command socket, comma-separated (the workers' publish_spec,
# the workers' and the expiry job's pushpin_command_spec).
parley__node_specs() {
	local k run pub="" cmd=""
	for k in $(seq 1 "$P_NODES"); do
		if [ "$k" = 1 ]; then
			run=$P_RUN
		else
			run=$(parley__layout "$P_STATE/node$k" && echo "$P_RUN")
		fi
		pub+=${pub:+,}tcp://127.0.0.1:$((P_PUSH_PORT + 10 * (k - 1)))
		cmd+=${cmd:+,}ipc://$run/pushpin-command
	done
	# PARLEY_WEBSOCKETD: every publish as NOTIFY too (notify.h).
	if [ -n "$P_WEBSOCKETD" ]; then
		pub+=,postgres:
	fi
	P_VAL[PUBLISH_SPECS]=$pub P_VAL[COMMAND_SPECS]=$cmd
}

# parley__node_start_server K: node K's lighttpd (or nginx, as node 1's
# server is) and workers, on settings
# of their own (STATE/nodeK/parley.conf: the same template and values,
# but the rate and metrics tables in the node's run dir, as on a host of
# its own).
parley__node_start_server() {
	(
		parley__node "$1"
		mkdir -p "$P_LOG" "$P_RUN" || exit 1
		chmod 755 "$P_STATE" && chmod 700 "$P_RUN" || exit 1
		chgrp "$PARLEY_WORKER_USER" "$P_LOG" && chmod 775 "$P_LOG" ||
			exit 1
		parley__rotate_logs || exit 1
		parley__write_settings || exit 1
		# Node 1's is the one the expiry job reads.
		rm -f "$P_STATE/parley-expire.conf"
		parley_say "node $1: $P_SERVER on 127.0.0.1:$P_HTTP_PORT"
		if [ "$P_SERVER" = nginx ]; then
			parley__start_nginx
		else
			parley__start_lighttpd
		fi
	)
}

# parley__node_start_pushpin K: node K's Pushpin, routing to its lighttpd.
parley__node_start_pushpin() {
	(
		parley__node "$1"
		parley_say "node $1: Pushpin on 127.0.0.1:$P_WS_PORT"
		parley__start_pushpin
	)
}

# parley__node_stop NAME SECONDS [SIGNAL]: parley__stop_pid of every node's
# NAME (pushpin or lighttpd).
parley__node_stop() {
	local d
	while IFS= read -r d; do
		(
			parley__layout "$d"
			parley__stop_pid "$P_RUN/$1.pid" "$1" "$2" "${3:-TERM}"
		)
	done < <(parley__node_dirs "$P_STATE")
}

# ---------------------------------------------------------------------------
# Stopping

# parley__stop_pid PIDFILE NAME SECONDS [SIGNAL]: SIGNAL (default TERM)
# to the process (if it is still NAME), wait, then SIGKILL its process
# group.
parley__stop_pid() {
	local pidfile=$1 name=$2 secs=$3 sig=${4:-TERM} pid comm i
	pid=$(parley__read_pid "$pidfile") || {
		rm -f "$pidfile"
		return 0
	}
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || comm=""
	if [ "$comm" = "$name" ]; then
		parley_say "stopping $name (pid $pid)"
		kill "-$sig" "$pid" 2>/dev/null || true
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

# The stack's parley-ws processes (parley__leftovers), one pid a line.
parley__workers() {
	local pid
	for pid in $(parley__leftovers); do
		if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = parley-ws ]; then
			echo "$pid"
		fi
	done
}

# parley__wait_workers SECONDS: until the stack's workers have exited
# (a stopped server's workers finish the request in hand).
parley__wait_workers() {
	local i
	for i in $(seq 1 $(($1 * 5))); do
		[ -n "$(parley__workers)" ] || return 0
		sleep 0.2
	done
	parley_say "workers still running after $1 s: $(parley__workers | tr '\n' ' ')"
}

# parley__wait_websocketd SECONDS: until the stack's parley-websocketd
# processes have exited (after websocketd stopped).
parley__wait_websocketd() {
	local i pid left
	for i in $(seq 1 $(($1 * 5))); do
		left=""
		for pid in $(parley__leftovers); do
			if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = parley-websocke ]; then
				left+=" $pid"
			fi
		done
		[ -n "$left" ] || return 0
		sleep 0.2
	done
	parley_say "parley-websocketd processes still running after $1 s:$left"
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
			m2adapter | lighttpd | nginx | parley-ws | postgres | pg_ctl | \
			pgbouncer | websocketd | parley-websocke) ;;
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
	local pid i pids d
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
	# then the servers (lighttpd stops its parley-ws workers), then
	# PostgreSQL.
	# lighttpd and nginx stop gracefully (SIGINT, SIGQUIT: no new
	# requests, the ones in hand finish); a parley-ws worker that gets
	# SIGTERM while serving finishes its request first, so PostgreSQL
	# waits until the workers are gone.
	parley__stop_pid "$P_RUN/expire.pid" bash 5
	parley__stop_pid "$P_RUN/push.pid" parley-push 10
	parley__stop_pid "$P_RUN/pushpin.pid" pushpin 15
	parley__node_stop pushpin 15
	parley__stop_pid "$P_RUN/lighttpd.pid" lighttpd 15 INT
	parley__node_stop lighttpd 15 INT
	parley__stop_pid "$P_RUN/nginx.pid" nginx 15 QUIT
	parley__node_stop nginx 15 QUIT
	parley__stop_pid "$P_RUN/parley-ws.pid" parley-ws 15
	parley__node_stop parley-ws 15
	parley__stop_mounts
	while IFS= read -r d; do
		(parley__layout "$d" && parley__stop_mounts)
	done < <(parley__node_dirs "$P_STATE")
	parley__wait_workers 15
	# websocketd (PARLEY_WEBSOCKETD): its processes see their stdin's EOF
	# and delete their connection rows, while PostgreSQL is still up.
	parley__stop_pid "$P_RUN/websocketd.pid" websocketd 10
	parley__wait_websocketd 10
	# PgBouncer after its clients, before PostgreSQL (SIGTERM: at once;
	# the workers are gone).
	parley__stop_pid "$P_RUN/pgbouncer.pid" pgbouncer 10

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
		rm -f "$P_RUN"/pushpin-* "$P_RUN"/*.sock* "$P_RUN"/*.pid
	fi
	while IFS= read -r d; do
		(
			parley__layout "$d"
			if [ -d "$P_RUN" ]; then
				rm -f "$P_RUN"/pushpin-* "$P_RUN"/*.sock* \
					"$P_RUN"/*.pid
			fi
		)
	done < <(parley__node_dirs "$P_STATE")
	return 0
}

# Delete the directories a (stopped) stack keeps outside STATE_DIR (the
# PostgreSQL cluster and the workers' files in /var/tmp, the run dir in
# /tmp), keeping their logs in STATE_DIR/log.
parley_stack_drop_fallbacks() {
	local state=${1:?usage: parley_stack_drop_fallbacks STATE_DIR} d
	[ -d "$state" ] || return 0
	state=$(cd "$state" && pwd) || return 1
	parley__layout "$state"
	if [ -L "$P_PG" ]; then
		rm -f "$P_PG"
		if [ -L "$P_LOG/postgresql.log" ]; then
			cp "$P_PG_FALLBACK/postgresql.log" "$P_LOG/postgresql.log.tmp" 2>/dev/null &&
				mv -f "$P_LOG/postgresql.log.tmp" "$P_LOG/postgresql.log"
		fi
	fi
	if [ -L "$P_LOG/workers" ]; then
		rm -f "$P_LOG/workers"
		cp -r "$P_WORKER_FALLBACK" "$P_LOG/workers" 2>/dev/null || true
	fi
	if [ -L "$P_STATE/api-keys" ]; then
		cp "$P_KEYS_FALLBACK/api-keys" "$P_STATE/api-keys.tmp" 2>/dev/null &&
			mv -f "$P_STATE/api-keys.tmp" "$P_STATE/api-keys"
	fi
	rm -rf "$P_PG_FALLBACK" "$P_WORKER_FALLBACK" "$P_KEYS_FALLBACK" \
		"/tmp/parley-run-$(parley__hash "$P_STATE")"
	while IFS= read -r d; do
		rm -rf "/tmp/parley-run-$(parley__hash "$d")"
	done < <(parley__node_dirs "$P_STATE")
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

# P_VAL: the values of the templates' @NAME@ placeholders.
parley__values() {
	local nofile maxfds maxconn v
	# Pushpin runs with the open-files soft limit raised to the hard limit
	# (parley__spawn --max-files): client_maxconn a bit below it, so a
	# stack holds as many connections as the machine allows. At most
	# 100,000: condure reserves memory for every slot at start (measured:
	# 0.54 KB resident a slot, 540 MB for 1,000,000, 10 MB for 20,000).
	nofile=$(ulimit -Hn)
	case "$nofile" in
	unlimited) nofile=1048576 ;;
	'' | *[!0-9]*) nofile=1024 ;;
	esac
	maxfds=$nofile
	[ "$maxfds" -le 8192 ] || maxfds=8192
	maxconn=$((nofile > 1024 ? nofile - 512 : nofile / 2))
	[ "$maxconn" -le 100000 ] || maxconn=100000
	declare -gA P_VAL=(
		[STATE_DIR]=$P_STATE [RUN_DIR]=$P_RUN [LOG_DIR]=$P_LOG
		[WS_PORT]=$P_WS_PORT [HTTP_PORT]=$P_HTTP_PORT
		[PG_PORT]=$P_PG_PORT [PUSH_PORT]=$P_PUSH_PORT
		[PUBLISH_PORT]=$P_PUBLISH_PORT [NGINX_PORT]=$P_NGINX_PORT
		[FCGI_ADDR]=127.0.0.1:$P_FCGI_PORT
		[HOOK_PORT]=$P_HOOK_PORT
		[PGBOUNCER_PORT]=$P_PGBOUNCER_PORT
		[PGBOUNCER_POOL_SIZE]=${PARLEY_PGBOUNCER_POOL_SIZE:-20}
		[DATABASE_POOL_MODE]=$([ -n "$P_PGBOUNCER" ] && echo transaction || echo session)
		[PG_USER]=$PARLEY_PG_USER
		[PUSH_WEBHOOK_URL]=${PARLEY_PUSH_WEBHOOK_URL:-}
		[PARLEY_WS]=$(parley__build_dir)/src/parley-ws
		[WORKER_USER]=$PARLEY_WORKER_USER
		[WORKERS]=${PARLEY_WORKERS:-8}
		[MAX_FDS]=$maxfds [MAX_CONNS]=$((maxfds / 2))
		[PUSHPIN_LOG_LEVEL]=${PARLEY_PUSHPIN_LOG_LEVEL:-1}
		[CLIENT_MAXCONN]=$maxconn
		[PG_CONF]=${PARLEY_PG_CONF:-}
		[WEB_DIR]=$PARLEY_ROOT/web
		[BROWSER_DEPS]=$PARLEY_BROWSER_DEPS
	)
	for v in WORKERS PUSHPIN_LOG_LEVEL PGBOUNCER_POOL_SIZE; do
		case "${P_VAL[$v]}" in
		'' | *[!0-9]*)
			parley_err "PARLEY_$v must be a number, not '${P_VAL[$v]}'"
			return 1
			;;
		esac
	done
	if [ -n "${PARLEY_JWT_SECRET:-}" ]; then
		P_VAL[JWT_SECRET]=$PARLEY_JWT_SECRET
		P_VAL[JWT_ISSUER]=${PARLEY_JWT_ISSUER:-}
		P_VAL[JWT_AUDIENCE]=${PARLEY_JWT_AUDIENCE:-}
	fi
}

parley__start_postgres() {
	local bindir sock log marker
	bindir=$(parley__pg_bindir) || return 1
	parley__system_user "$PARLEY_PG_USER" PostgreSQL || return 1

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
	P_VAL[PG_SOCKET_DIR]=$sock
	parley__render "$P_PGDATA/parley-stack.conf" \
		"$PARLEY_ROOT/lighttpd/postgresql.conf.in" &&
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

# The Grip-Sig key of a state dir: made at its first start, then kept.
parley__sig_key() {
	if [ ! -s "$P_STATE/sig_key" ]; then
		(umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' \
			>"$P_STATE/sig_key") || return 1
	fi
	P_VAL[SIG_KEY]=$(cat "$P_STATE/sig_key")
}

# The HTTP send API's key file of a state dir (README, "HTTP send API"):
# made with one key at its first start, then kept (keys added with
# parley-admin create-api-key stay). Readable by the workers' group: they
# re-read it when it changes, after giving root up. When that user cannot
# reach the state dir (a checkout under a 0700 directory, such as mktemp
# -d), the file lives in P_KEYS_FALLBACK, linked as STATE/api-keys.
parley__api_keys() {
	local f=$P_STATE/api-keys dir=$P_KEYS_FALLBACK
	if ! runuser -u "$PARLEY_WORKER_USER" -- test -x "$P_STATE" \
		2>/dev/null; then
		mkdir -p "$dir" && chgrp "$PARLEY_WORKER_USER" "$dir" &&
			chmod 750 "$dir" || return 1
		if [ ! -L "$f" ]; then
			if [ -f "$f" ]; then mv -f "$f" "$dir/api-keys" || return 1; fi
			ln -sfn "$dir/api-keys" "$f" || return 1
		fi
		f=$dir/api-keys
	fi
	if [ ! -s "$f" ]; then
		(umask 027 &&
			{ printf '# made by scripts/lib.sh at the first start, %s\n' \
				"$(date -u +%Y-%m-%dT%H:%M:%SZ)"
			  od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; echo; } \
			>"$f") || return 1
	fi
	chgrp "$PARLEY_WORKER_USER" "$f" && chmod 640 "$f" || return 1
	P_VAL[API_KEYS_FILE]=$f
}

# STATE/parley.conf (the workers, as their login user, from
# parley-settings.conf.in) and STATE/parley-expire.conf (the expiry job,
# as its own, from parley-expire.conf.in: no keys).
parley__write_settings() {
	local f t
	for f in parley.conf:parley-settings.conf.in:$P_WORKER_DATABASE_URL \
		parley-expire.conf:parley-expire.conf.in:$P_EXPIRE_DATABASE_URL; do
		t=${f#*:}
		P_VAL[DATABASE_URL]=${t#*:}
		t=${t%%:*}
		f=$P_STATE/${f%%:*}
		parley__render "$f" "$PARLEY_ROOT/lighttpd/$t" || return 1
		if [ -n "${PARLEY_EXTRA_CONF:-}" ]; then
			printf '# From PARLEY_EXTRA_CONF:\n%s\n' "$PARLEY_EXTRA_CONF" \
				>>"$f" || return 1
		fi
	done
}

parley__migrate() {
	local psql
	parley_say "applying migrations (sql/)"
	parley__env_clean
	# As the schema owner; the programs' login users come afterwards.
	# Directly, in a session of its own (its advisory lock), whatever the
	# workers' database_pool_mode.
	if ! "${PARLEY__ENV[@]}" PARLEY_DATABASE_URL="$P_DATABASE_URL" \
		PARLEY_DATABASE_POOL_MODE=session \
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
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parley_pusher') THEN
        CREATE ROLE parley_pusher LOGIN IN ROLE parley_push;
    END IF;
END
$$;
SQL
		parley_err "creating the login users failed:"
		tail -n 20 "$P_LOG/migrate.log" >&2
		return 1
	}
}

# PgBouncer (PARLEY_PGBOUNCER=1; README, "PgBouncer"), after PostgreSQL
# and the migrations (the login users exist), before the workers:
# STATE/pgbouncer.ini and STATE/pgbouncer-users.txt from pgbouncer/, on
# 127.0.0.1:HTTP_PORT+4 in transaction mode. Started as root with -u: it
# reads its files (root's, mode 600), then runs as the cluster's
# unprivileged user (it refuses root). Ready when a query through it
# sees the timeouts its connect_query sets.
parley__pgbouncer_ready() {
	[ "$("$P_PG_BINDIR/psql" -X -q -tA "$P_POOLED_DATABASE_URL?connect_timeout=2" \
		-c 'SHOW lock_timeout' 2>/dev/null)" = 2s ]
}

# parley__pgbouncer_pools_ready PORT BINDIR: a query through the PgBouncer
# on PORT succeeds as each user of its auth file (each is a pool of its
# own).
parley__pgbouncer_pools_ready() {
	local u
	for u in parley_ws parley_job "$PARLEY_PG_USER"; do
		[ "$("$2/psql" -X -q -tA \
			"postgresql://$u@127.0.0.1:$1/parley?connect_timeout=2" \
			-c 'SELECT 1' 2>/dev/null)" = 1 ] || return 1
	done
}

parley__start_pgbouncer() {
	[ -n "$P_PGBOUNCER" ] || return 0
	command -v pgbouncer >/dev/null || {
		parley_err "pgbouncer is missing (PARLEY_PGBOUNCER=1): apt-get install pgbouncer"
		return 1
	}
	parley__render "$P_STATE/pgbouncer-users.txt" \
		"$PARLEY_ROOT/pgbouncer/pgbouncer-users.txt.in" &&
		parley__render "$P_STATE/pgbouncer.ini" \
			"$PARLEY_ROOT/pgbouncer/pgbouncer.ini.in" || return 1
	parley_say "starting PgBouncer on 127.0.0.1:$P_PGBOUNCER_PORT (transaction pooling, ${P_VAL[PGBOUNCER_POOL_SIZE]} server connections per user)"
	parley__spawn "$P_RUN/pgbouncer.pid" "$P_LOG/pgbouncer.log" \
		pgbouncer -u "$PARLEY_PG_USER" "$P_STATE/pgbouncer.ini" || return 1
	if ! parley__wait_for 30 "PgBouncer on port $P_PGBOUNCER_PORT" \
		"$P_RUN/pgbouncer.pid" parley__pgbouncer_ready; then
		tail -n 20 "$P_LOG/pgbouncer.log" >&2
		return 1
	fi
}

# P_WORKER_ENV: NAME=VALUE words for the workers' environment (lighttpd
# passes its own on to them), from the workers.env.in of the
# PARLEY_STACK_EXTRA folders (tests/stack/sanitizer), or none. Their
# @WORKER_LOG_DIR@ is a directory the workers' user can write to: STATE/log,
# or, when that user cannot (a checkout under a 0700 directory, such as
# mktemp -d), one in /var/tmp linked as STATE/log/workers.
parley__worker_env() {
	local dir=$P_LOG
	P_WORKER_ENV=()
	[ -n "$(parley__extra_files workers.env.in)" ] || return 0
	if ! runuser -u "$PARLEY_WORKER_USER" -- test -w "$P_LOG" 2>/dev/null; then
		dir=$P_WORKER_FALLBACK
		# A restart keeps what the workers wrote (sanitizer reports).
		if [ -z "${PARLEY_KEEP_LOGS:-}" ]; then rm -rf "$dir"; fi
		mkdir -p "$dir" &&
			chown "$PARLEY_WORKER_USER:" "$dir" &&
			ln -sfn "$dir" "$P_LOG/workers" || return 1
	fi
	P_VAL[WORKER_LOG_DIR]=$dir
	parley__render "$P_STATE/workers.env" workers.env.in || return 1
	mapfile -t P_WORKER_ENV < <(grep -Ev '^[[:space:]]*(#|$)' "$P_STATE/workers.env")
	parley_say "the workers' environment (workers.env): ${P_WORKER_ENV[*]}"
}

parley__start_lighttpd() {
	local conf=$P_STATE/lighttpd.conf
	parley__render "$conf" "$PARLEY_ROOT/lighttpd/lighttpd.conf.in" ||
		return 1
	parley__start_lighttpd_on "$conf"
}

parley__start_lighttpd_on() {
	local conf=$1
	if ! lighttpd -tt -f "$conf" >"$P_LOG/lighttpd-check.log" 2>&1; then
		parley_err "lighttpd -tt -f $conf failed:"
		cat "$P_LOG/lighttpd-check.log" >&2
		return 1
	fi
	parley_say "starting lighttpd on 127.0.0.1:$P_HTTP_PORT (parley-ws at /ws)"
	parley__spawn --max-files "$P_RUN/lighttpd.pid" "$P_LOG/lighttpd.log" \
		env "${P_WORKER_ENV[@]}" lighttpd -D -f "$conf" || return 1
	# A plain GET reaches a worker, which answers 400 ("connect with a
	# WebSocket client"): lighttpd and the workers are up.
	if ! parley__wait_for 30 "lighttpd on port $P_HTTP_PORT" \
		"$P_RUN/lighttpd.pid" parley__http_status_is 400 \
		"http://127.0.0.1:$P_HTTP_PORT/ws"; then
		tail -n 30 "$P_LOG/lighttpd.log" >&2
		return 1
	fi
}

# nginx does not start FastCGI programs: parley-ws --listen serves FastCGI
# on HTTP_PORT+2 and nginx (nginx/nginx.conf.in and parley.conf.in)
# listens on NGINX_PORT: HTTP_PORT when it is the stack's server
# (PARLEY_SERVER=nginx), HTTP_PORT+1 beside lighttpd (PARLEY_NGINX, where
# the test stack's Pushpin routes /nginx/ws).
# parley__nginx_mounts DIR: with nginx as the stack's server, the mounts
# of the PARLEY_STACK_EXTRA folders' nginx-mounts.in (the test stack's
# /jwt/ws and /limits/ws, which lighttpd has in its own file): for each
# line "LOCATION VAR=VALUE...", a parley-ws --listen with those variables
# on HTTP_PORT+7 and up, and a location for it, included at the end of
# nginx's server block (DIR/parley.conf, whose last line is its "}").
parley__nginx_mounts() {
	local d=$1 loc vars port=$((P_HTTP_PORT + 7)) n=0
	[ "$P_SERVER" = nginx ] && [ -n "$(parley__extra_files nginx-mounts.in)" ] ||
		return 0
	parley__render "$d/mounts" nginx-mounts.in && : >"$d/mounts.conf" ||
		return 1
	while read -r loc vars; do
		case "$loc" in '' | '#'*) continue ;; esac
		n=$((n + 1))
		read -r -a vars <<<"$vars"
		printf 'location %s {\n    include /etc/nginx/fastcgi_params;\n    fastcgi_pass 127.0.0.1:%s;\n    fastcgi_request_buffering off;\n}\n' \
			"$loc" "$port" >>"$d/mounts.conf" || return 1
		parley_say "starting parley-ws --listen 127.0.0.1:$port for $loc"
		parley__spawn "$P_RUN/parley-ws-mount$n.pid" "$P_LOG/parley-ws-mount$n.log" \
			env "${P_WORKER_ENV[@]}" "${vars[@]}" "${P_VAL[PARLEY_WS]}" \
			--config "$P_STATE/parley.conf" --listen "127.0.0.1:$port" \
			--procs 1 || return 1
		port=$((port + 1))
	done <"$d/mounts"
	[ "$(tail -n 1 "$d/parley.conf")" = "}" ] || {
		parley_err "$d/parley.conf does not end with its server block's }"
		return 1
	}
	sed -i "\$ s|^}\$|    include $d/mounts.conf;\n}|" "$d/parley.conf"
}

# The parley-ws --listen of parley__nginx_mounts (of the current P_RUN).
parley__stop_mounts() {
	local f
	for f in "$P_RUN"/parley-ws-mount*.pid; do
		[ ! -e "$f" ] || parley__stop_pid "$f" parley-ws 15
	done
	return 0
}

parley__start_nginx() {
	local d=$P_STATE/nginx procs=${PARLEY_WORKERS:-8} web=${P_VAL[WEB_DIR]}
	[ "$P_SERVER" = nginx ] || procs=1
	mkdir -p "$d/tmp" || return 1
	# The chat page: nginx's workers run as nobody; when nobody cannot
	# read the checkout (a 0700 directory above it), they serve a copy.
	if ! runuser -u nobody -- test -r "${P_VAL[WEB_DIR]}/index.html" \
		2>/dev/null; then
		rm -rf "$P_WORKER_FALLBACK/web" && mkdir -p "$P_WORKER_FALLBACK" &&
			cp -r "$PARLEY_ROOT/web" "$P_WORKER_FALLBACK/web" &&
			chmod a+x "$P_WORKER_FALLBACK" &&
			chmod -R a+rX "$P_WORKER_FALLBACK/web" || return 1
		P_VAL[WEB_DIR]=$P_WORKER_FALLBACK/web
	fi
	parley__render "$d/parley.conf" "$PARLEY_ROOT/nginx/parley.conf.in" &&
		parley__render "$d/nginx.conf" "$PARLEY_ROOT/nginx/nginx.conf.in" &&
		parley__nginx_mounts "$d" || return 1
	P_VAL[WEB_DIR]=$web
	parley_say "starting parley-ws --listen ${P_VAL[FCGI_ADDR]} --procs $procs and nginx on 127.0.0.1:$P_NGINX_PORT"
	parley__spawn_saved "$P_RUN/parley-ws.pid" "$P_LOG/parley-ws.log" \
		env "${P_WORKER_ENV[@]}" "${P_VAL[PARLEY_WS]}" \
		--config "$P_STATE/parley.conf" --listen "${P_VAL[FCGI_ADDR]}" \
		--procs "$procs" || return 1
	# nginx writes its master's pid, the same, to the same file.
	parley__spawn_saved --max-files "$P_RUN/nginx.pid" "$P_LOG/nginx.log" \
		nginx -c "$d/nginx.conf" -g 'daemon off;' || return 1
	parley__wait_nginx "$P_NGINX_PORT"
}

parley__wait_nginx() {
	if ! parley__wait_for 30 "nginx on port $1" "$P_RUN/nginx.pid" \
		parley__http_status_is 400 "http://127.0.0.1:$1/ws"; then
		tail -n 20 "$P_LOG/nginx.log" "$P_LOG/parley-ws.log" >&2
		return 1
	fi
}

parley__pushpin_ready() {
	parley__port_open "$P_WS_PORT" && parley__port_open "$P_PUSH_PORT" &&
		parley__port_open "$P_PUBLISH_PORT" &&
		parley__http_status_is 400 "http://127.0.0.1:$P_WS_PORT/ws"
}

# Runs Pushpin on STATE/pushpin.conf and waits until the client port and
# both publish inputs accept connections and a request goes through
# pushpin-proxy, zurl and the server to a worker ("started" in its log
# only means spawned).
parley__run_pushpin() {
	rm -f "$P_RUN"/pushpin-*
	parley__spawn --max-files "$P_RUN/pushpin.pid" "$P_LOG/pushpin.log" \
		pushpin --config "$P_STATE/pushpin.conf" --merge-output || return 1
	if ! parley__wait_for 30 "Pushpin" "$P_RUN/pushpin.pid" \
		parley__pushpin_ready; then
		tail -n 40 "$P_LOG/pushpin.log" >&2
		return 1
	fi
}

parley__start_pushpin() {
	parley__render "$P_STATE/routes" "$PARLEY_ROOT/pushpin/routes.in" &&
		parley__render "$P_STATE/pushpin.conf" \
			"$PARLEY_ROOT/pushpin/pushpin.conf.in" || return 1
	parley_say "starting Pushpin on 127.0.0.1:$P_WS_PORT (publish: zmq $P_PUSH_PORT, http $P_PUBLISH_PORT; up to ${P_VAL[CLIENT_MAXCONN]} connections)"
	parley__run_pushpin
}

# Move the logs of the previous run to log/previous/ (one generation).
parley__rotate_logs() {
	local f
	[ -d "$P_LOG" ] || return 0
	# A restart (parley_stack_ctl restart) keeps the logs where they are.
	[ -z "${PARLEY_KEEP_LOGS:-}" ] || return 0
	rm -rf "$P_LOG/previous" && mkdir -p "$P_LOG/previous" || return 1
	for f in "$P_LOG"/*; do
		[ "$f" != "$P_LOG/previous" ] || continue
		if [ -L "$f" ] && [ -d "$f" ]; then
			# The workers' files in a fallback directory.
			cp -r "$f/." "$P_LOG/previous/${f##*/}" 2>/dev/null || true
			rm -f "$f"
		elif [ -L "$f" ]; then
			# postgresql.log in a fallback directory.
			cp "$f" "$P_LOG/previous/" 2>/dev/null || true
			if [ -e "$f" ]; then : >"$f"; fi
		elif [ -e "$f" ]; then
			mv -f "$f" "$P_LOG/previous/" || return 1
		fi
	done
}

# STATE/start.env: the port set and the PARLEY_* settings this stack was
# started with, so that parley_stack_ctl restart can start it again the
# same way (mode 600: it may hold the JWT secret).
parley__write_start_env() {
	local f=$P_STATE/start.env v
	{
		echo "# Written by scripts/lib.sh: how this stack was started."
		printf 'P_START_SET=%q\n' "$1"
		printf 'PARLEY_WS_PORT=%q\nPARLEY_HTTP_PORT=%q\nPARLEY_PG_PORT=%q\n' \
			"$P_WS_PORT" "$P_HTTP_PORT" "$P_PG_PORT"
		printf 'PARLEY_PUSH_PORT=%q\nPARLEY_PUBLISH_PORT=%q\n' \
			"$P_PUSH_PORT" "$P_PUBLISH_PORT"
		for v in PARLEY_BUILD_DIR PARLEY_SERVER PARLEY_WORKERS \
			PARLEY_EXTRA_CONF PARLEY_PG_CONF PARLEY_PUSHPIN_LOG_LEVEL \
			PARLEY_NGINX PARLEY_STACK_EXTRA PARLEY_JWT_SECRET \
			PARLEY_JWT_ISSUER PARLEY_JWT_AUDIENCE PARLEY_NODES \
			PARLEY_PGBOUNCER PARLEY_PGBOUNCER_POOL_SIZE \
			PARLEY_WEBSOCKETD; do
			if [ -n "${!v+x}" ]; then
				printf '%s=%q\n' "$v" "${!v}"
			fi
		done
	} >"$f.tmp" && chmod 600 "$f.tmp" && mv "$f.tmp" "$f"
}

# STATE/stack.env: the PARLEY_STACK_* variables, for scripts/up,
# scripts/bench, parley_stack_ctl and the integration tests, then the
# extra folders' stack.env.in (tests/stack: what the tests need to know of
# its additions); then read back, so the caller has them set too.
parley__write_state() {
	local f=$P_STATE/stack.env k
	parley__render "$f.extra" stack.env.in || return 1
	{
		echo "# Written by scripts/lib.sh when the stack started."
		printf 'PARLEY_STACK_%s=%q\n' SERVER "$P_SERVER" \
			WS_URL "ws://127.0.0.1:$P_WS_PORT/ws" \
			DATABASE_URL "$P_DATABASE_URL" \
			PUBLISH_URL "http://127.0.0.1:$P_PUBLISH_PORT/publish/" \
			BACKEND_URL "http://127.0.0.1:$P_HTTP_PORT/ws" \
			WS_PORT "$P_WS_PORT" PUSH_PORT "$P_PUSH_PORT" \
			PUBLISH_PORT "$P_PUBLISH_PORT" PG_BINDIR "$P_PG_BINDIR" \
			BUILD_DIR "$(parley__build_dir)" NODES "$P_NODES" \
			POOLER "${P_PGBOUNCER:+pgbouncer}" \
			POOLED_DATABASE_URL "$P_POOLED_DATABASE_URL" \
			PGBOUNCER_PORT "${P_PGBOUNCER:+$P_PGBOUNCER_PORT}" \
			WEBSOCKETD_URL "${P_WEBSOCKETD:+ws://127.0.0.1:$P_WEBSOCKETD_PORT/ws}"
		# Nodes 2.. (parley__node): the same, with _K appended.
		for k in $(seq 2 "$P_NODES"); do
			(
				parley__node "$k"
				printf "PARLEY_STACK_%s_$k=%q\n" \
					WS_URL "ws://127.0.0.1:$P_WS_PORT/ws" \
					PUBLISH_URL "http://127.0.0.1:$P_PUBLISH_PORT/publish/" \
					BACKEND_URL "http://127.0.0.1:$P_HTTP_PORT/ws" \
					WS_PORT "$P_WS_PORT" PUSH_PORT "$P_PUSH_PORT" \
					PUBLISH_PORT "$P_PUBLISH_PORT" STATE "$P_STATE"
			)
		done
		cat "$f.extra"
	} >"$f.tmp" && chmod 600 "$f.tmp" && rm -f "$f.extra" &&
		mv "$f.tmp" "$f" || return 1
	# shellcheck disable=SC1090
	. "$f"
}

parley_stack_start() {
	local state=${1:?usage: parley_stack_start STATE_DIR dev|test}
	local set=${2:-dev} p ports busy
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
	P_SERVER=${PARLEY_SERVER:-lighttpd}
	P_NGINX_PORT=$((P_HTTP_PORT + 1))
	P_FCGI_PORT=$((P_HTTP_PORT + 2))
	# Where the test stack's offline push webhook listens (test_push.py).
	P_HOOK_PORT=$((P_HTTP_PORT + 3))
	# PgBouncer (PARLEY_PGBOUNCER=1).
	P_PGBOUNCER_PORT=$((P_HTTP_PORT + 4))
	# websocketd (PARLEY_WEBSOCKETD=1).
	P_WEBSOCKETD_PORT=$((P_HTTP_PORT + 6))
	busy=("${ports[@]}")
	case "${PARLEY_WEBSOCKETD:-}" in
	'' | 0) P_WEBSOCKETD="" ;;
	1)
		P_WEBSOCKETD=1
		busy+=("$P_WEBSOCKETD_PORT")
		;;
	*)
		parley_err "PARLEY_WEBSOCKETD must be 1 or 0, not '$PARLEY_WEBSOCKETD'"
		return 1
		;;
	esac
	case "${PARLEY_PGBOUNCER:-}" in
	'' | 0) P_PGBOUNCER="" ;;
	1)
		P_PGBOUNCER=1
		busy+=("$P_PGBOUNCER_PORT")
		;;
	*)
		parley_err "PARLEY_PGBOUNCER must be 1 or 0, not '$PARLEY_PGBOUNCER'"
		return 1
		;;
	esac
	case "$P_SERVER" in
	lighttpd)
		if [ -n "${PARLEY_NGINX:-}" ]; then
			busy+=("$P_NGINX_PORT" "$P_FCGI_PORT")
		fi
		;;
	nginx)
		P_NGINX_PORT=$P_HTTP_PORT
		busy+=("$P_FCGI_PORT")
		;;
	*)
		parley_err "unknown PARLEY_SERVER '$P_SERVER' (lighttpd or nginx)"
		return 1
		;;
	esac
	# Nodes 2..PARLEY_NODES: ports 10*(K-1) above node 1's.
	P_NODES=${PARLEY_NODES:-1}
	case "$P_NODES" in
	[1-9]) ;;
	*)
		parley_err "PARLEY_NODES must be 1..9, not '$P_NODES'"
		return 1
		;;
	esac
	for p in $(seq 10 10 $((10 * (P_NODES - 1)))); do
		busy+=($((P_WS_PORT + p)) $((P_HTTP_PORT + p))
			$((P_PUSH_PORT + p)) $((P_PUBLISH_PORT + p)))
	done
	if [ "$(printf '%s\n' "${busy[@]}" | sort -u | wc -l)" != ${#busy[@]} ]; then
		parley_err "the ports of the $P_NODES nodes overlap: ${busy[*]}"
		return 1
	fi

	mkdir -p "$state" && state=$(cd "$state" && pwd) || return 1
	parley__layout "$state"
	P_DATABASE_URL=postgresql://$PARLEY_PG_USER@127.0.0.1:$P_PG_PORT/parley
	P_WORKER_DATABASE_URL=postgresql://parley_ws@127.0.0.1:$P_PG_PORT/parley
	P_EXPIRE_DATABASE_URL=postgresql://parley_job@127.0.0.1:$P_PG_PORT/parley
	P_PUSH_DATABASE_URL=postgresql://parley_pusher@127.0.0.1:$P_PG_PORT/parley
	# Through PgBouncer: the workers and the expiry job (settings files);
	# the owner's URL there is for the tests (PARLEY_STACK_POOLED_DATABASE_URL).
	P_POOLED_DATABASE_URL=""
	if [ -n "$P_PGBOUNCER" ]; then
		P_WORKER_DATABASE_URL=postgresql://parley_ws@127.0.0.1:$P_PGBOUNCER_PORT/parley
		P_EXPIRE_DATABASE_URL=postgresql://parley_job@127.0.0.1:$P_PGBOUNCER_PORT/parley
		P_POOLED_DATABASE_URL=postgresql://$PARLEY_PG_USER@127.0.0.1:$P_PGBOUNCER_PORT/parley
	fi

	# Stop whatever an earlier run of this state dir left behind, and keep
	# its logs in log/previous/.
	parley_stack_stop "$P_STATE" || return 1
	parley__rotate_logs || return 1
	# The nodes of an earlier run with a larger PARLEY_NODES.
	while IFS= read -r p; do
		if [ "${p##*/node}" -gt "$P_NODES" ]; then
			rm -rf "$p" "/tmp/parley-run-$(parley__hash "$p")"
		fi
	done < <(parley__node_dirs "$P_STATE")

	for p in "${busy[@]}"; do
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
	# The counters of /metrics start at zero with the stack (and a table
	# left by an older build's layout would stop the workers).
	rm -f "$P_RUN/metrics" || return 1
	# The workers run as PARLEY_WORKER_USER and may write their own files
	# to log/ (workers.env).
	parley__system_user "$PARLEY_WORKER_USER" parley-ws || return 1
	chgrp "$PARLEY_WORKER_USER" "$P_LOG" && chmod 775 "$P_LOG" || return 1
	parley_say "starting the $set stack in $P_STATE ($P_SERVER in front of the workers)"

	parley__values && parley__node_specs || return 1
	parley__write_start_env "$set" || return 1
	parley__start_postgres || return 1
	parley__sig_key || return 1
	parley__api_keys || return 1
	parley__worker_env || return 1
	parley__write_settings || return 1
	parley__migrate || return 1
	parley__start_pgbouncer || return 1
	if [ "$P_SERVER" = lighttpd ]; then
		parley__start_lighttpd || return 1
	fi
	if [ "$P_SERVER" = nginx ] || [ -n "${PARLEY_NGINX:-}" ]; then
		parley__start_nginx || return 1
	fi
	for p in $(seq 2 "$P_NODES"); do
		parley__node_start_server "$p" || return 1
	done
	parley__start_pushpin || return 1
	for p in $(seq 2 "$P_NODES"); do
		parley__node_start_pushpin "$p" || return 1
	done
	parley__start_push || return 1
	parley__start_websocketd || return 1
	parley__write_state || return 1
	parley_say "the $set stack is up"
}

# The offline push sender (README, "Offline push"), when the workers'
# settings name a webhook (PARLEY_PUSH_WEBHOOK_URL; the test stack's
# points at test_push.py's receiver): parley-push with the workers'
# settings but its own login user, directly to PostgreSQL in a session of
# its own (it LISTENs) even when the workers go through PgBouncer, started
# as root, switching to the workers' user (run_as_user) after mapping the
# metrics file.
parley__start_push() {
	local url
	url=$(sed -n 's/^push_webhook_url *= *//p' "$P_STATE/parley.conf" |
		tail -n 1)
	[ -n "$url" ] || return 0
	parley_say "starting parley-push (webhook $url)"
	parley__spawn "$P_RUN/push.pid" "$P_LOG/push.log" \
		env "${P_WORKER_ENV[@]}" \
		PARLEY_DATABASE_URL="$P_PUSH_DATABASE_URL" \
		PARLEY_DATABASE_POOL_MODE=session \
		"$(parley__build_dir)/src/parley-push" \
		--config "$P_STATE/parley.conf"
}

# websocketd (PARLEY_WEBSOCKETD=1; README, "websocketd") on
# 127.0.0.1:HTTP_PORT+6, any path, running parley-websocketd on the
# workers' settings, one process per WebSocket. websocketd passes only
# the variables of --passenv on: the workers' environment (workers.env)
# and the direct database URL (a LISTEN needs a session of its own, so
# never through PgBouncer).
parley__start_websocketd() {
	local passenv=PATH,LD_LIBRARY_PATH,PARLEY_DATABASE_URL,PARLEY_DATABASE_POOL_MODE v
	[ -n "$P_WEBSOCKETD" ] || return 0
	if ! command -v websocketd >/dev/null; then
		parley_err "websocketd is missing (PARLEY_WEBSOCKETD=1): apt-get install websocketd"
		return 1
	fi
	for v in "${P_WORKER_ENV[@]}"; do
		passenv+=,${v%%=*}
	done
	parley_say "starting websocketd on 127.0.0.1:$P_WEBSOCKETD_PORT (parley-websocketd)"
	parley__spawn "$P_RUN/websocketd.pid" "$P_LOG/websocketd.log" \
		env "${P_WORKER_ENV[@]}" \
		PARLEY_DATABASE_URL="postgresql://parley_ws@127.0.0.1:$P_PG_PORT/parley" \
		PARLEY_DATABASE_POOL_MODE=session \
		websocketd --port "$P_WEBSOCKETD_PORT" --address 127.0.0.1 \
		--loglevel error --passenv "$passenv" \
		"$(parley__build_dir)/src/parley-websocketd" \
		--config "$P_STATE/parley.conf" || return 1
	if ! parley__wait_for 15 "websocketd on port $P_WEBSOCKETD_PORT" \
		"$P_RUN/websocketd.pid" parley__port_open "$P_WEBSOCKETD_PORT"; then
		tail -n 20 "$P_LOG/websocketd.log" >&2
		return 1
	fi
}

# ---------------------------------------------------------------------------
# The expiry job on schedule (scripts/up): parley-expire --reconcile every
# minute, one summary line per run in STATE/log/expire.log.
parley_expire_loop_start() {
	local state=${1:?usage: parley_expire_loop_start STATE_DIR}
	state=$(cd "$state" && pwd) || return 1
	parley__layout "$state"
	parley__spawn "$P_RUN/expire.pid" "$P_LOG/expire.log" \
		bash -c 'while :; do "$0" --config "$1" --reconcile; sleep 60; done' \
		"$(parley__build_dir)/src/parley-expire" "$P_STATE/parley-expire.conf"
}

# Stops or starts one service of a running stack (the integration tests
# use it through scripts/stackctl to test failures). NODE (default 1):
# the pushpin-* actions act on that node's Pushpin (parley__node).
parley_stack_ctl() {
	local state=${1:?usage: parley_stack_ctl STATE_DIR ACTION [NODE]}
	local action=$2 node=${3:-1} bindir pid i nodes server
	state=$(cd "$state" && pwd) || return 1
	parley__layout "$state"
	bindir=$(parley__pg_bindir) || return 1
	read -r P_WS_PORT P_PUSH_PORT P_PUBLISH_PORT nodes server < <(
		. "$P_STATE/stack.env" && echo "$PARLEY_STACK_WS_PORT" \
			"$PARLEY_STACK_PUSH_PORT" "$PARLEY_STACK_PUBLISH_PORT" \
			"${PARLEY_STACK_NODES:-1}" "${PARLEY_STACK_SERVER:-lighttpd}")
	if [ "$node" != 1 ]; then
		case "$action" in
		pushpin-kill | pushpin-start | pushpin-stop) ;;
		*)
			parley_err "$action takes no NODE (only pushpin-kill, pushpin-start, pushpin-stop)"
			return 64
			;;
		esac
		case "$node" in
		[2-9]) ;;
		*) node=0 ;;
		esac
		if [ "$node" -lt 2 ] || [ "$node" -gt "$nodes" ]; then
			parley_err "no node '$3' (the stack has $nodes)"
			return 64
		fi
		# Its layout and ports (and pushpin.conf) instead of node 1's.
		parley__layout "$P_STATE/node$node"
		i=$((10 * (node - 1)))
		P_WS_PORT=$((P_WS_PORT + i)) P_PUSH_PORT=$((P_PUSH_PORT + i))
		P_PUBLISH_PORT=$((P_PUBLISH_PORT + i))
	fi
	case "$action" in
	pg-stop)
		parley__as_pg "$bindir/pg_ctl" -D "$P_PGDATA" -s -m fast -w \
			-t 30 stop
		;;
	pg-start)
		parley__as_pg "$bindir/pg_ctl" -D "$P_PGDATA" \
			-l "$(readlink -f "$P_LOG/postgresql.log")" -s -w -t 60 \
			start || return 1
		# Through PgBouncer the database is back for the workers only
		# once it has logged in again for each of its users: until
		# then (up to its server_login_retry) it fails their queries
		# at once. A query as each user brings that about.
		local pgb
		pgb=$(. "$P_STATE/stack.env" && echo "${PARLEY_STACK_PGBOUNCER_PORT:-}")
		[ -z "$pgb" ] || parley__wait_for 30 "PgBouncer on port $pgb" "" \
			parley__pgbouncer_pools_ready "$pgb" "$bindir"
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
			parley__port_open "$P_WS_PORT" || return 0
			sleep 0.2
		done
		parley_err "Pushpin's port $P_WS_PORT is still open"
		return 1
		;;
	pushpin-start)
		# On the same STATE/pushpin.conf (scripts/bench edits it first).
		parley__run_pushpin
		;;
	pushpin-stop)
		parley__stop_pid "$P_RUN/pushpin.pid" pushpin 15
		;;
	lighttpd-stop)
		# Graceful, as parley_stack_stop does it.
		parley__stop_pid "$P_RUN/lighttpd.pid" lighttpd 15 INT
		;;
	lighttpd-term)
		# SIGTERM: lighttpd's immediate stop (an operator's kill).
		parley__stop_pid "$P_RUN/lighttpd.pid" lighttpd 15 TERM
		;;
	lighttpd-start)
		# On the same STATE/lighttpd.conf and workers' environment.
		P_WORKER_ENV=()
		if [ -f "$P_STATE/workers.env" ]; then
			mapfile -t P_WORKER_ENV < <(grep -Ev '^[[:space:]]*(#|$)' \
				"$P_STATE/workers.env")
		fi
		P_HTTP_PORT=$(sed -n 's/^server.port = //p' "$P_STATE/lighttpd.conf")
		parley__start_lighttpd_on "$P_STATE/lighttpd.conf"
		;;
	server-stop | server-term | server-start)
		# The stack's server and its workers, whichever it is: lighttpd
		# (the lighttpd-* commands), or nginx and the parley-ws --listen
		# behind it (stopped after nginx, so that a request in hand is
		# answered; started again with the arguments of their start).
		if [ "$server" != nginx ]; then
			parley_stack_ctl "$state" "lighttpd-${action#server-}"
			return
		fi
		case "$action" in
		server-stop)
			parley__stop_pid "$P_RUN/nginx.pid" nginx 15 QUIT &&
				parley__stop_pid "$P_RUN/parley-ws.pid" parley-ws 15
			;;
		server-term)
			parley__stop_pid "$P_RUN/nginx.pid" nginx 15 TERM &&
				parley__stop_pid "$P_RUN/parley-ws.pid" parley-ws 15
			;;
		server-start)
			parley__respawn "$P_RUN/parley-ws.pid" &&
				parley__respawn "$P_RUN/nginx.pid" &&
				parley__wait_nginx "$(sed -n 's/^ *listen 127.0.0.1:\([0-9]*\);/\1/p' \
					"$P_STATE/nginx/parley.conf" | head -n 1)"
			;;
		esac
		;;
	worker-kill)
		# A crash mid-request: SIGKILL to the busiest worker under
		# lighttpd (most CPU time), or under parley-ws --listen when
		# nginx is the server; their parent starts a new one.
		i=lighttpd
		[ "$server" != nginx ] || i=parley-ws
		pid=$(parley__read_pid "$P_RUN/$i.pid") &&
			pid=$(ps -o times=,pid= --ppid "$pid" |
				sort -n | tail -n 1 | awk '{print $2}')
		[ -n "$pid" ] || {
			parley_err "no worker under $i"
			return 1
		}
		kill -KILL "$pid"
		echo "$pid"
		;;
	pids)
		# NAME PID lines: lighttpd, Pushpin's runner, nginx, and the
		# workers (lighttpd's, then parley-ws --listen's).
		for i in lighttpd pushpin nginx; do
			pid=$(parley__read_pid "$P_RUN/$i.pid") &&
				parley__pid_alive "$pid" && echo "$i $pid"
		done
		for i in lighttpd parley-ws; do
			pid=$(parley__read_pid "$P_RUN/$i.pid") &&
				parley__pid_alive "$pid" &&
				ps -o comm=,pid= --ppid "$pid" | awk '$1 == "parley-ws"'
		done
		# (A stack without nginx has no parley-ws.pid: not a failure.)
		return 0
		;;
	restart)
		# What scripts/up --stop does (parley_stack_stop), then a start
		# with the same settings (STATE/start.env), keeping the data
		# and the logs.
		[ -f "$P_STATE/start.env" ] || {
			parley_err "no $P_STATE/start.env"
			return 1
		}
		parley_stack_stop "$P_STATE" || return 1
		(
			# shellcheck disable=SC1091
			. "$P_STATE/start.env" || exit 1
			export PARLEY_KEEP_LOGS=1
			parley_stack_start "$P_STATE" "$P_START_SET"
		)
		;;
	*)
		parley_err "unknown action '$action'"
		return 64
		;;
	esac
}

# ---------------------------------------------------------------------------
# Benchmarks (scripts/bench, scripts/bench-groups)

# Builds bench/build/null-backend (when older than its source) and prints
# the path of a build dir with it as src/parley-ws beside the product's
# migrations and expiry job (PRODUCT_BUILD's), for parley_stack_start.
parley_bench_null_tree() {
	local product=${1:?usage: parley_bench_null_tree PRODUCT_BUILD}
	local root build tree bin src
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || return 1
	build=$root/bench/build tree=$root/bench/build/null-tree
	bin=$build/null-backend src=$root/bench/null-backend.c
	mkdir -p "$tree/src" || return 1
	if [ ! -x "$bin" ] || [ "$bin" -ot "$src" ]; then
		parley_say "building bench/build/null-backend" >&2
		# shellcheck disable=SC2046
		cc -O2 -g -Wall -Wextra -o "$bin.tmp" "$src" \
			$(pkg-config --cflags --libs libcjson libzmq) -lfcgi >&2 &&
			mv "$bin.tmp" "$bin" || return 1
	fi
	ln -sfn "$bin" "$tree/src/parley-ws" &&
		ln -sfn "$product/src/parley-migrate" "$tree/src/parley-migrate" &&
		ln -sfn "$product/src/parley-expire" "$tree/src/parley-expire" &&
		printf '%s\n' "$tree"
}

# CPU groups of a stack for the load generators' --pids: Pushpin's runner
# (condure, zurl, proxy, handler), lighttpd (and its workers), PostgreSQL,
# and PgBouncer when the stack has it.
parley_stack_cpu_pids() {
	local state=${1:?usage: parley_stack_cpu_pids STATE_DIR} pp lt pg pb
	parley__layout "$state"
	pp=$(parley__read_pid "$P_RUN/pushpin.pid") || pp=""
	lt=$(parley__read_pid "$P_RUN/lighttpd.pid") || lt=""
	pg=$(parley__read_pid "$P_PGDATA/postmaster.pid") || pg=""
	pb=$(parley__read_pid "$P_RUN/pgbouncer.pid") || pb=""
	printf 'pushpin=%s,lighttpd=%s,postgres=%s' "${pp:-0}" "${lt:-0}" "${pg:-0}"
	if [ -n "$pb" ]; then printf ',pgbouncer=%s' "$pb"; fi
}
