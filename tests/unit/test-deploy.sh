#!/bin/sh
# tests/unit/test-deploy.sh - the deployment files (DEPLOY.md), as TAP.
#
#   test-deploy.sh
#       make check: renders systemd/*.in here with the build's programs
#       (src/) as @bindir@, and checks them and the rendered deploy/
#       files of the build directory (the current directory).
#   test-deploy.sh --installed UNITDIR SYSUSERSDIR DEPLOYDIR
#       make installcheck (so make distcheck): the same checks on the
#       installed files, as installed (UNITDIR "no": no units).
#
# What it checks: `systemd-analyze verify` accepts every unit, and the
# drop-in on Debian's pushpin.service, without a word (an unknown key is
# only a warning there, so any output fails); `systemd-analyze security
# --offline` keeps each service's exposure at or below its recorded
# level; the timer fires every minute, as the cron.d entry does, with
# the same command; systemd-sysusers creates the units' user; nginx -t
# accepts the server block; the socket, nginx and Pushpin's routes name
# the same addresses; Pushpin's file has the settings Parley needs.
# Nothing here skips: a missing tool (systemd-analyze, systemd-sysusers,
# nginx: Debian's systemd and nginx packages) is a failure.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
n=0
failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

ok() { # ok STATUS NAME [DIAG]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		if [ $# -ge 3 ] && [ -n "$3" ]; then
			printf '%s\n' "$3" | head -n 40 | sed 's/^/#   /'
		fi
	fi
}

need() { # need TOOL PACKAGE: a failed test point when TOOL is missing
	if command -v "$1" >/dev/null 2>&1; then
		return 0
	fi
	ok 1 "$1 is installed" "not found: apt-get install $2"
	return 1
}

# The highest exposure `systemd-analyze security` may give each service,
# in its --threshold units (tenths: 0 best, 100 worst). With systemd 252
# each unit here scores 1.4 ("OK"); a lost hardening option shows as a
# rise above 2.0.
max_exposure() {
	case "$1" in
	parley-ws.service | parley-push.service | parley-expire.service | \
		parley-websocketd.service)
		echo 20 ;;
	*) echo 100 ;;
	esac
}

# value FILE KEY: the last "KEY=value" of FILE (systemd or Pushpin ini),
# or of "KEY = value" (Parley's settings).
value() {
	sed -n "s/^[ 	]*$2[ 	]*=[ 	]*//p" "$1" | tail -n 1
}

# render DIR: systemd/*.in of the sources into DIR, with the build's
# programs as @bindir@ and DIR/etc as @sysconfdir@.
render() {
	for t in "$top_srcdir"/systemd/*.in "$top_srcdir"/systemd/*/*.in; do
		rel=${t#"$top_srcdir"/systemd/}
		out=$1/${rel%.in}
		mkdir -p "$(dirname "$out")"
		sed -e "s|@bindir@|$PWD/src|g" -e "s|@sysconfdir@|$1/etc|g" \
			-e "s|@pkgdatadir@|$1/share|g" "$t" >"$out"
	done
}

# check_units DIR: the units and the pushpin drop-in in DIR.
check_units() {
	dir=$1
	need systemd-analyze systemd || return
	for u in parley-ws.socket parley-ws.service parley-push.service \
		parley-expire.service parley-expire.timer \
		parley-websocketd.service; do
		if [ ! -f "$dir/$u" ]; then
			ok 1 "$u is there" "no $dir/$u"
			continue
		fi
		out=$(SYSTEMD_UNIT_PATH="$dir:" systemd-analyze verify \
			--man=no "$dir/$u" 2>&1)
		rc=$?
		[ $rc -eq 0 ] && [ -z "$out" ]
		ok $? "systemd-analyze verify $u: no error, no warning" \
			"exit $rc: $out"
		grep -q '@[A-Za-z_]*@' "$dir/$u"
		ok $((! $?)) "  $u has no placeholder left"
		case $u in
		*.service)
			max=$(max_exposure "$u")
			out=$(systemd-analyze security --offline=yes \
				--threshold="$max" "$dir/$u" 2>&1)
			rc=$?
			ok $rc "  its exposure (systemd-analyze security): at most $((max / 10)).$((max % 10))" \
				"$(printf '%s\n' "$out" | grep -E 'Overall|✗' | cut -c1-100 | tail -n 20)"
			grep -q '^User=parley$' "$dir/$u"
			ok $? "  it runs as the user parley"
			;;
		esac
	done

	# A malformed unit is caught: a control with a misspelt key.
	sed 's/^NoNewPrivileges=/NoNewPrivilege=/' "$dir/parley-push.service" \
		>"$tmp/parley-push.service"
	out=$(SYSTEMD_UNIT_PATH="$dir:" systemd-analyze verify --man=no \
		"$tmp/parley-push.service" 2>&1)
	case $out in
	*NoNewPrivilege*) rc=0 ;;
	*) rc=1 ;;
	esac
	ok $rc "control: a misspelt key in a unit is reported" "$out"

	# The drop-in, over Debian's pushpin.service.
	if [ -f /lib/systemd/system/pushpin.service ] ||
		[ -f /usr/lib/systemd/system/pushpin.service ]; then
		ok 0 "Debian's pushpin.service is installed"
	else
		ok 1 "Debian's pushpin.service is installed" \
			"apt-get install pushpin"
		return
	fi
	out=$(SYSTEMD_UNIT_PATH="$dir:" systemd-analyze verify --man=no \
		pushpin.service 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ]
	ok $? "systemd-analyze verify pushpin.service with the drop-in" \
		"exit $rc: $out"
	mkdir -p "$tmp/bad/pushpin.service.d"
	{ cat "$dir/pushpin.service.d/parley.conf"; echo "LimitNOFIEL=1"; } \
		>"$tmp/bad/pushpin.service.d/parley.conf"
	out=$(SYSTEMD_UNIT_PATH="$tmp/bad:" systemd-analyze verify --man=no \
		pushpin.service 2>&1)
	case $out in
	*LimitNOFIEL*) rc=0 ;;
	*) rc=1 ;;
	esac
	ok $rc "control: the drop-in is read (a misspelt key in it is reported)" \
		"$out"
	conf=$(sed -n 's/^ExecStart=.*--config \([^ ]*\).*/\1/p' \
		"$dir/pushpin.service.d/parley.conf")
	[ -n "$conf" ]
	ok $? "  it runs pushpin --config on Parley's file ($conf)"

	# parley-ws gets its socket as stdin, on nginx's address.
	[ "$(value "$dir/parley-ws.service" StandardInput)" = socket ]
	ok $? "parley-ws.service takes the socket as stdin"
	value "$dir/parley-ws.service" ExecStart | grep -q -- '--procs [0-9]'
	ok $? "  and forks its workers on it (--procs)"
	if [ -n "${nginx_conf:-}" ] && [ -f "$nginx_conf" ]; then
		listen=$(value "$dir/parley-ws.socket" ListenStream)
		pass=$(sed -n 's/^ *fastcgi_pass \([^;]*\);.*/\1/p' "$nginx_conf" |
			sort -u)
		[ "$listen" = "$pass" ]
		ok $? "parley-ws.socket listens where nginx sends ($listen)" \
			"nginx: $pass"
	fi
}

# check_timer DIR: the timer against the cron.d entry (both templates).
check_timer() {
	need systemd-analyze systemd || return
	spec=$(value "$1/parley-expire.timer" OnCalendar)
	out=$(systemd-analyze calendar --iterations=2 "$spec" 2>&1)
	t1=$(printf '%s\n' "$out" | sed -n 's/^ *Next elapse: //p')
	t2=$(printf '%s\n' "$out" | sed -n 's/^ *Iter. #2: //p')
	s1=$(date -d "$t1" +%s 2>/dev/null) || s1=0
	s2=$(date -d "$t2" +%s 2>/dev/null) || s2=0
	[ $((s2 - s1)) -eq 60 ] && [ "$(date -d "$t1" +%S)" = 00 ]
	ok $? "parley-expire.timer ($spec): every minute, on the minute" "$out"
	[ "$(value "$1/parley-expire.timer" AccuracySec)" = 1s ]
	ok $? "  to the second (AccuracySec=1s)"
	cron=$(grep -v '^#' "$top_srcdir/cron/parley-expire.in" |
		grep '^\* \* \* \* \* ')
	[ -n "$cron" ]
	ok $? "the cron.d entry runs every minute" "$cron"
	want=$(printf '%s\n' "$cron" | sed 's/^\* \* \* \* \* [^ ]* //; s/ 2>&1.*//')
	got=$(value "$top_srcdir/systemd/parley-expire.service.in" ExecStart)
	[ "$want" = "$got" ]
	ok $? "  with the command of parley-expire.service" \
		"cron:    $want
systemd: $got"
	user=$(printf '%s\n' "$cron" | awk '{print $6}')
	[ "$user" = "$(value "$top_srcdir/systemd/parley-expire.service.in" User)" ]
	ok $? "  as the same user ($user)"
}

# check_sysusers FILE: the user the units run as.
check_sysusers() {
	need systemd-sysusers systemd || return
	mkdir -p "$tmp/root/etc"
	out=$(systemd-sysusers --root="$tmp/root" "$1" 2>&1)
	rc=$?
	ok $rc "systemd-sysusers accepts $(basename "$1")" "$out"
	grep -q '^parley:x:[0-9]*:[0-9]*:[^:]*:[^:]*:/usr/sbin/nologin$' \
		"$tmp/root/etc/passwd" 2>/dev/null
	ok $? "  and creates the system user parley (no login shell)" \
		"$(cat "$tmp/root/etc/passwd" 2>&1)"
}

# check_deploy DIR: the rendered samples (pushpin.conf, pushpin-routes,
# nginx-parley.conf).
check_deploy() {
	d=$1
	for f in pushpin.conf pushpin-routes nginx-parley.conf \
		parley.conf.production; do
		if [ -f "$d/$f" ]; then
			# (comments may name the templates' placeholders)
			grep -v '^ *#' "$d/$f" | grep -q '@[A-Za-z_]*@'
			ok $((! $?)) "deploy/$f has no placeholder left" \
				"$(grep -v '^ *#' "$d/$f" | grep '@[A-Za-z_]*@')"
		else
			ok 1 "deploy/$f is there" "no $d/$f"
		fi
	done

	if need nginx nginx; then
		mkdir -p "$tmp/nginx"
		cat >"$tmp/nginx/nginx.conf" <<EOF
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { }
http {
    client_body_temp_path $tmp/nginx;
    fastcgi_temp_path $tmp/nginx;
    proxy_temp_path $tmp/nginx;
    uwsgi_temp_path $tmp/nginx;
    scgi_temp_path $tmp/nginx;
    include $d/nginx-parley.conf;
}
EOF
		out=$(nginx -t -q -e "$tmp/nginx/error.log" -p "$tmp/nginx" \
			-c "$tmp/nginx/nginx.conf" 2>&1)
		ok $? "nginx -t accepts deploy/nginx-parley.conf" "$out"
	fi
	port=$(sed -n 's/^ *listen 127\.0\.0\.1:\([0-9]*\);/\1/p' \
		"$d/nginx-parley.conf")
	bad=$(grep -v '^#' "$d/pushpin-routes" | grep . |
		grep -v " 127\.0\.0\.1:$port\(,\|\$\)")
	[ -n "$port" ] && [ -z "$bad" ]
	ok $? "Pushpin's routes all go to nginx (127.0.0.1:$port)" "$bad"

	p=$d/pushpin.conf
	value "$p" services | grep -q 'zurl'
	ok $? "pushpin.conf runs zurl (services=)"
	! grep -q '^message_rate' "$p"
	ok $? "  leaves message_rate unset"
	[ "$(value "$p" client_buffer_size)" = 65536 ]
	ok $? "  has client_buffer_size=65536"
	[ -n "$(value "$p" x_forwarded_for)" ]
	ok $? "  sets x_forwarded_for (the client's address)"
	for k in zurl_out_specs zurl_out_stream_specs zurl_in_specs; do
		[ -n "$(value "$p" $k)" ]
		ok $? "  sets $k"
	done
	want=$(value "$top_srcdir/cron/parley-expire.conf" pushpin_command_spec)
	[ "$(value "$p" command_spec)" = "$want" ]
	ok $? "  its command_spec is parley-expire.conf's ($want)"
	want=$(value "$top_srcdir/deploy/parley.conf.production" publish_spec)
	[ "tcp://127.0.0.1:5560" = "$want" ] &&
		[ "$(value "$p" push_in_spec)" = "$want" ]
	ok $? "  its push_in_spec is parley.conf.production's publish_spec"
	[ "$(basename "$(value "$p" routesfile)")" = pushpin-routes ]
	ok $? "  it names the routes file pushpin-routes"
	keys=$(sed -n 's/^\([a-z_]*\)=.*/\1/p' "$top_srcdir/pushpin/pushpin.conf.in")
	unknown=""
	for k in $(sed -n 's/^\([a-z_]*\)=.*/\1/p' "$p"); do
		printf '%s\n' "$keys" | grep -qx "$k" || unknown="$unknown $k"
	done
	[ -z "$unknown" ]
	ok $? "  every key is one of pushpin/pushpin.conf.in's (no typo)" \
		"unknown:$unknown"
}

if [ "${1:-}" = --installed ]; then
	[ $# -eq 4 ] || { echo "usage: $0 --installed UNITDIR SYSUSERSDIR DEPLOYDIR" >&2; exit 64; }
	nginx_conf=$4/nginx-parley.conf
	case $2 in
	no | */no) echo "# no units installed (--with-systemdsystemunitdir=no)" ;;
	*) check_units "$2" ;;
	esac
	case $3 in
	no | */no) ;;
	*) check_sysusers "$3/parley.conf" ;;
	esac
	check_deploy "$4"
else
	if [ ! -x src/parley-ws ] || [ ! -f deploy/pushpin.conf ]; then
		ok 1 "run from a built build directory" \
			"no src/parley-ws or deploy/pushpin.conf in $PWD (make check)"
	else
		nginx_conf=$PWD/deploy/nginx-parley.conf
		render "$tmp/units"
		check_units "$tmp/units"
		check_timer "$tmp/units"
		check_sysusers "$tmp/units/sysusers.d/parley.conf"
		cp "$top_srcdir/deploy/parley.conf.production" "$tmp/units/" &&
			cp deploy/pushpin.conf deploy/pushpin-routes \
				deploy/nginx-parley.conf "$tmp/units/"
		check_deploy "$tmp/units"
	fi
fi
echo "1..$n"
[ $failed -eq 0 ]
