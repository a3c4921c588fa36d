"""Soak: steady traffic between many users plus connection churn (a few
users close their connection and reconnect every second) for
PARLEY_SOAK_SECONDS (default 60; scripts/faults --long runs 600). The
resident memory and the open file descriptors of the server (lighttpd,
or nginx: PARLEY_SERVER) and of its parley-ws workers are sampled every 10 s after a 10 s warm-up; at the end
they must be flat:

  memory   the workers' total RSS, and the server's, grew by at most
           10% + 2 MB over the run (allocator warm-up, not a leak: a leak
           of one allocation per request would be far more)
  fds      each worker ends with at most 4 more open descriptors than it
           had after the warm-up; the server's count follows the requests in
           flight, so its count is compared when quiet, before the traffic
           and 7 s after it (lighttpd closes idle keep-alive connections
           after 5 s)

Against scripts/test's sanitizer build (the stack's workers.env sets
ASAN_OPTIONS) memory is only reported: ASan keeps freed memory in its
quarantine (up to 256 MB a process), so its RSS grows by design.

and the audit (tests/integration/traffic.py) finds nothing lost, every
send acked and delivered, no error, nothing refused. A message that
reaches a connection as it closes is delivered again on the next one, so
churn costs duplicates: at most 10% of the run's messages, as for the
faults (measured: about one per churned connection).
"""
import asyncio
import os
import random
import subprocess
import time

from parley_test import ROOT, STACK, STATE, diag, eq, ok, run
from traffic import Traffic, summary

SERVER = STACK.get("SERVER", "lighttpd")  # in front of the workers
SECONDS = float(os.environ.get("PARLEY_SOAK_SECONDS", "60"))
PAIRS = int(os.environ.get("PARLEY_SOAK_PAIRS", "20"))
RATE = float(os.environ.get("PARLEY_SOAK_RATE", "150"))
CHURN = 2          # connections closed (and reopened) every second
WARM = 10.0
MEM_SLACK = (0.10, 2 * 1024)   # fraction, KB
FD_SLACK = 4


def sanitized():
    """Whether the stack's workers run under ASan (scripts/test's second
    run gives them ASAN_OPTIONS through STATE/workers.env)."""
    try:
        with open(os.path.join(STATE, "workers.env")) as f:
            return "ASAN_OPTIONS" in f.read()
    except OSError:
        return False


def processes():
    """{pid: name} of the stack's server and its workers (scripts/stackctl
    pids): lighttpd and the parley-ws it spawned, or, with nginx as the
    server (PARLEY_SERVER=nginx), nginx's master and worker and the
    parley-ws --listen workers behind it. Both are named SERVER."""
    out = subprocess.run([os.path.join(ROOT, "scripts", "stackctl"), STATE,
                          "pids"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    server = None
    procs = {}
    for line in out.splitlines():
        name, pid = line.split()
        if name == SERVER:
            server = pid
            procs[int(pid)] = SERVER
    for line in out.splitlines():
        name, pid = line.split()
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        # Under lighttpd only its own workers (not the parley-ws --listen
        # of the nginx beside it); under nginx every listed worker is
        # the server's.
        if name == "parley-ws" and (SERVER == "nginx" or ppid == server):
            procs[int(pid)] = "parley-ws"
    if SERVER == "nginx" and server is not None:
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = f.read().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                continue
            if ppid == server:
                procs[int(pid)] = SERVER
    return procs


def sample(procs):
    """{pid: (rss KB, open fds)}."""
    out = {}
    for pid in procs:
        try:
            with open(f"/proc/{pid}/status") as f:
                rss = next(int(line.split()[1]) for line in f
                           if line.startswith("VmRSS:"))
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, StopIteration):
            continue
        out[pid] = (rss, fds)
    return out


async def test_soak():
    quiet = processes()
    quiet_before = sample(quiet)
    t = Traffic("soak", PAIRS, RATE)
    await t.start()
    samples = []
    procs = {}
    try:
        t0 = time.monotonic()
        next_sample = t0 + WARM
        while time.monotonic() - t0 < SECONDS:
            await asyncio.sleep(1)
            for p in random.sample(t.peers, CHURN):
                asyncio.ensure_future(p.churn())   # not waited for
            if time.monotonic() >= next_sample:
                if not procs:
                    procs = processes()
                samples.append(sample(procs))
                next_sample += 10
        samples.append(sample(procs))
        await t.drain(60)
    finally:
        await t.close()
    await asyncio.sleep(7)
    quiet_after = sample(quiet)
    a = t.audit()
    diag("figures " + summary("soak", a, f" churned {t.churns}"))
    eq(a["unacked"], 0, "soak: every send was acked")
    eq(a["lost"], 0, "soak: nothing acked was lost")
    eq(a["unstored"], 0, "soak: every acked message is stored")
    eq(a["undelivered"], 0, "soak: every message ends delivered")
    eq(a["refused"], 0, "soak: nothing refused")
    eq(a["errors"], {}, "soak: no errors")
    ok(a["duplicates"] <= 0.10 * a["sent"],
       f"soak: duplicates {a['duplicates']} <= 10% of {a['sent']}")
    # A close of a connection that is still reconnecting is no churn:
    # at least half of the intended churn must have happened.
    ok(t.churns >= CHURN * SECONDS / 2, f"soak: {t.churns} reconnects "
       f"of churn (of {CHURN * SECONDS:.0f} tried)")
    ok(len(samples) >= 2, f"soak: {len(samples)} samples")
    first, last = samples[0], samples[-1]
    pids = [p for p in first if p in last]
    eq(len(pids), len(procs), f"soak: no process of {SERVER}'s died "
       "(the same pids at the end)")
    for name in ("parley-ws", SERVER):
        mine = [p for p in pids if procs[p] == name]
        series = [sum(s[p][0] for p in mine if p in s) for s in samples]
        before, after = series[0], series[-1]
        allowed = before * (1 + MEM_SLACK[0]) + MEM_SLACK[1]
        diag(f"figures soak {name} ({len(mine)}) RSS KB every 10 s: "
             f"{series}")
        if name == "parley-ws" and sanitized():
            diag(f"soak: {name} RSS not checked: ASan's quarantine "
                 f"({before} -> {after} KB)")
        else:
            ok(after <= allowed, f"soak: {name} RSS flat ({before} -> "
               f"{after} KB, allowed {allowed:.0f})")
        if name == SERVER:
            fds = [(quiet_before[p][1], quiet_after[p][1]) for p in mine
                   if p in quiet_before and p in quiet_after]
        else:
            fds = [(first[p][1], last[p][1]) for p in mine]
        diag(f"figures soak {name} fds (start, end): {fds}")
        ok(fds and all(e <= s + FD_SLACK for s, e in fds),
           f"soak: {name} open descriptors flat (at most +{FD_SLACK})")


if __name__ == "__main__":
    run(test_soak, timeout=SECONDS + 180)
