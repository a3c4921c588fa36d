"""parley-ws as systemd's socket activation runs it (systemd/parley-ws.socket
and parley-ws.service, DEPLOY.md): the listening socket on stdin
(StandardInput=socket), `parley-ws --procs N` forking N workers on it.

systemd is not booted here; the test does what it does: it binds the
socket, keeps it, and starts the program with the socket as stdin. Then:
the workers answer FastCGI requests (GET /healthz, as nginx would send
it), two at once; one killed is replaced; SIGTERM stops them all; a
connect made while no worker runs waits in the socket's backlog and is
answered by the next start (what makes a restart under systemd lose no
request); and --procs without a listening socket on stdin is refused."""
import os
import signal
import socket
import struct
import subprocess
import time

from parley_test import BUILD, STATE, diag, eq, ok, run

PARLEY_WS = os.path.join(BUILD, "src", "parley-ws")
CONFIG = os.path.join(STATE, "parley.conf")
LOG = os.path.join(STATE, "log", "socket-activation.log")

# ---- a FastCGI client (the records nginx sends) ----------------------------

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(type_, body, request_id=1):
    return struct.pack(">BBHHBB", 1, type_, request_id, len(body), 0, 0) + body


def pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    name, value = name.encode(), value.encode()
    return length(len(name)) + length(len(value)) + name + value


def begin():
    return record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))  # responder


def get_request(path):
    params = b"".join(pair(k, v) for k, v in (
        ("REQUEST_METHOD", "GET"), ("REQUEST_URI", path),
        ("SCRIPT_NAME", path), ("QUERY_STRING", ""),
        ("SERVER_PROTOCOL", "HTTP/1.1"), ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REMOTE_ADDR", "127.0.0.1")))
    return (begin() + record(PARAMS, params) + record(PARAMS, b"")
            + record(STDIN, b""))


def read_response(sock):
    """The STDOUT of one request, until its END_REQUEST."""
    out, buf = b"", b""
    while True:
        while len(buf) >= 8:
            _, type_, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            body, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if type_ == STDOUT:
                out += body
            elif type_ == END_REQUEST:
                return out.decode(errors="replace")
        chunk = sock.recv(65536)
        if not chunk:
            return out.decode(errors="replace") + "\n(connection closed)"
        buf += chunk


def healthz(addr, timeout=5):
    """(status line, body) of GET /healthz through the socket."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(get_request("/healthz"))
        text = read_response(s)
    head, _, body = text.partition("\r\n\r\n")
    status = next((line for line in head.split("\r\n")
                   if line.lower().startswith("status:")), "Status: 200 OK")
    return status, body


# ---- the supervisor, started as systemd starts it ---------------------------


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1024)          # parley-ws.socket's Backlog=
    return s


def start(sock, procs=2):
    env = dict(os.environ)
    # The sanitizer build: no leak report from the supervisor's exit (as
    # for the stack's workers, tests/stack/sanitizer/workers.env.in).
    env["ASAN_OPTIONS"] = ":".join(
        x for x in (env.get("ASAN_OPTIONS", ""), "detect_leaks=0") if x)
    log = open(LOG, "ab")
    try:
        return subprocess.Popen(
            [PARLEY_WS, "--config", CONFIG, "--procs", str(procs)],
            stdin=sock.fileno(), stdout=log, stderr=log, env=env)
    finally:
        log.close()


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return sorted(int(x) for x in f.read().split())
    except OSError:
        return []


def wait_for(cond, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def healthy(addr):
    try:
        status, body = healthz(addr, timeout=2)
        return status.startswith("Status: 200") and '"status"' in body
    except OSError:
        return False


def stop(proc, seconds=10):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def log_text():
    try:
        with open(LOG, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# ---- the tests ---------------------------------------------------------------


async def test_procs_on_stdin_socket():
    sock = listening_socket()
    addr = sock.getsockname()
    proc = start(sock)
    try:
        ok(wait_for(lambda: healthy(addr), 15),
           "parley-ws --procs 2 on a listening socket as stdin answers "
           "GET /healthz", log_text()[-2000:])
        status, body = healthz(addr)
        ok(status.startswith("Status: 200") and '"database"' in body,
           "  200 with the database's and Pushpin's state", f"{status} {body}")
        kids = wait_for(lambda: len(children(proc.pid)) == 2 and
                        children(proc.pid), 10)
        eq(len(kids or []), 2, "  two workers, children of the supervisor")

        # Two at once: one worker held by a request that never ends, the
        # other still answers.
        held = socket.create_connection(addr, timeout=5)
        held.sendall(begin())
        time.sleep(0.3)
        ok(healthy(addr), "  a second request is answered while a worker "
           "is held by an unfinished one")
        held.close()

        # One dies: the supervisor starts another on the same socket.
        victim = kids[0]
        os.kill(victim, signal.SIGKILL)
        again = wait_for(lambda: len(children(proc.pid)) == 2 and
                         victim not in children(proc.pid), 10)
        ok(again, "  a killed worker is replaced", children(proc.pid))
        ok(wait_for(lambda: healthy(addr), 10), "  and requests are "
           "answered again")
        ok("exited; restarting" in log_text(), "  the supervisor logs it")

        # SIGTERM (systemctl stop): everything exits, status 0.
        workers = children(proc.pid)
        eq(stop(proc), 0, "SIGTERM: the supervisor exits with 0")
        ok(not any(os.path.exists(f"/proc/{p}") for p in workers),
           "  and its workers with it (it waited for them)", workers)

        # Nobody serves now, but the socket is still open (systemd keeps
        # it): a connect waits in the backlog, and the next start
        # answers it.
        waiting = socket.create_connection(addr, timeout=20)
        waiting.sendall(get_request("/healthz"))
        proc = start(sock)
        try:
            text = read_response(waiting)
        except OSError as e:
            text = f"({e})"
        waiting.close()
        ok('"database"' in text,
           "a request sent while no worker ran is answered after the "
           "restart", text[-500:])
    finally:
        stop(proc)
        sock.close()
    report = [line for line in log_text().splitlines()
              if "ERROR: AddressSanitizer" in line or "runtime error:" in line]
    ok(not report, "no sanitizer report in the workers' log", report)


async def test_procs_needs_a_socket():
    with open(os.devnull) as null:
        r = subprocess.run([PARLEY_WS, "--config", CONFIG, "--procs", "2"],
                           stdin=null, capture_output=True, text=True,
                           timeout=30)
    eq(r.returncode, 64, "--procs with no listening socket on stdin: exit 64")
    ok("StandardInput=socket" in r.stderr, "  saying what it needs",
       r.stderr)


if __name__ == "__main__":
    open(LOG, "w").close()  # this run's lines only
    diag(f"parley-ws: {PARLEY_WS}; log: {LOG}")
    run(test_procs_on_stdin_socket, test_procs_needs_a_socket)
