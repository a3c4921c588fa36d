"""The chat page (README, "The chat page"): web/ served at / on the
WebSocket URL's host and port, through Pushpin to lighttpd (and to the
nginx beside it), and driven end to end in headless Chromium by
tests/browser/chat.mjs: two users chat, ticks, typing, a lost connection,
history after a reload, a group.

Needs Debian's chromium and playwright-core (scripts/lib.sh: PARLEY_PACKAGES
and parley_install_browser_deps, which scripts/test runs); without them
this test fails, it does not skip. Screenshots go to STATE/artifacts/."""
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import parley_test
from parley_test import ROOT, STATE, WS_URL, diag, eq, hs256, ok, run, uid

HTTP = "http" + WS_URL[len("ws"):].rsplit("/", 1)[0]  # http://host:port
WEB = parley_test.STACK.get("WEB_DIR") or os.path.join(ROOT, "web")
DEPS = (parley_test.STACK.get("BROWSER_DEPS")
        or os.path.join(ROOT, "tests", "browser", "node_modules"))
CHROMIUM = "/usr/bin/chromium"
DRIVER = os.path.join(ROOT, "tests", "browser", "chat.mjs")
ARTIFACTS = os.path.join(STATE, "artifacts")


def get(path):
    """(status, content type, body bytes) of a GET through Pushpin."""
    try:
        with urllib.request.urlopen(HTTP + path, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def file_bytes(name):
    with open(os.path.join(WEB, name), "rb") as f:
        return f.read()


async def test_served():
    status, ctype, body = get("/")
    eq(status, 200, "page: / answers 200")
    ok(ctype.startswith("text/html"), "page: / is HTML", ctype)
    eq(body, file_bytes("index.html"), "page: / is web/index.html")
    for name, kind in (("chat.js", "javascript"), ("chat.css", "text/css")):
        status, ctype, body = get("/" + name)
        ok(status == 200 and kind in ctype and body == file_bytes(name),
           f"page: /{name} served as {kind}", (status, ctype))
    status, _, _ = get("/no-such-file.html")
    eq(status, 404, "page: a file not in web/ is 404")
    # The routes that were there before / still go where they went.
    status, ctype, body = get("/healthz")
    ok(status == 200 and ctype == "application/json", "routes: /healthz is "
       "still the workers'", (status, ctype, body[:80]))
    status, ctype, body = get("/ws")
    ok(status == 400 and b"WebSocket" in body, "routes: /ws is still the "
       "workers' (a plain GET is refused)", (status, body[:80]))
    status, _, body = get("/metrics")
    ok(status == 200 and b"parley_connects_total" in body,
       "routes: /metrics is still the workers'", status)
    if parley_test.STACK.get("NGINX_WS_URL"):
        status, ctype, body = get("/nginx/")
        ok(status == 200 and body == file_bytes("index.html"),
           "page: nginx serves it too (location /)", (status, ctype))
    else:
        ok(False, "page: the test stack has an nginx")


async def test_browser():
    node = shutil.which("node")
    have = [
        ok(os.access(CHROMIUM, os.X_OK), f"browser: {CHROMIUM} is installed "
           "(Debian's chromium, scripts/lib.sh PARLEY_PACKAGES)"),
        ok(os.path.isfile(os.path.join(DEPS, "playwright-core", "package.json")),
           f"browser: playwright-core is in {DEPS} "
           "(scripts/lib.sh parley_install_browser_deps)"),
        ok(node is not None, "browser: node is on PATH"),
    ]
    if not all(have):
        return
    os.makedirs(ARTIFACTS, exist_ok=True)
    cmd = [node, DRIVER, "--url", HTTP + "/", "--out", ARTIFACTS,
           "--modules", DEPS, "--chromium", CHROMIUM]
    env = dict(os.environ)
    # A third page signs in with a token at the test stack's jwt mount.
    if ok(parley_test.JWT_URL and parley_test.JWT_SECRET,
          "browser: the test stack has the auth-mode-jwt mount"):
        user = uid("carol")
        claims = {"sub": user, "exp": int(time.time()) + 600}
        if parley_test.JWT_ISSUER:
            claims["iss"] = parley_test.JWT_ISSUER
        env.update(PARLEY_CHAT_JWT_URL=parley_test.JWT_URL,
                   PARLEY_CHAT_TOKEN_USER=user,
                   PARLEY_CHAT_TOKEN=hs256(parley_test.JWT_SECRET, claims))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL, env=env)
    except subprocess.TimeoutExpired as e:
        ok(False, "browser: the driver finished within 180 s", e.stdout)
        return
    done = False
    shots = []
    for line in r.stdout.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            diag(f"driver: {line}")
            continue
        if "ok" in ev:
            ok(ev["ok"], "browser: " + ev["name"], ev.get("diag"))
        elif "screenshot" in ev:
            shots.append(ev["screenshot"])
        elif ev.get("done"):
            done = True
    ok(done and r.returncode == 0, "browser: the driver ran the whole "
       "scenario", f"exit status {r.returncode}\n{r.stderr[-3000:]}")
    for path in shots:
        diag(f"screenshot: {path}")
    png = os.path.join(ARTIFACTS, "chat.png")
    try:
        with open(png, "rb") as f:
            head = f.read(8)
        size = os.path.getsize(png)
    except OSError as e:
        ok(False, "browser: the screenshot was written", e)
        return
    ok(head == b"\x89PNG\r\n\x1a\n" and size > 10000,
       f"browser: the screenshot is a PNG ({size} bytes): {png}")


run(test_served, test_browser, timeout=240)
