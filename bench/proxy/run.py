#!/usr/bin/python3
"""bench/proxy: the hub's reverse proxy and spawner against their baselines,
side by side in one run, on this machine.

    bench/proxy/run.py [--seconds 10] [--rounds 3] [--quick] [--no-jupyterhub]

Measures (same small backend everywhere: bench_backend, 1 KiB answers and a
WebSocket echo):
  * HTTP requests/s and p50/p99 latency with wrk, 64 connections and 1:
    direct to the backend, through configurable-http-proxy 5.3 (JupyterHub's
    default proxy, from npm), through coursehub (a logged-in user's
    /user/<name>/ route, the backend started by the hub's spawner);
  * WebSocket echo messages/s, direct / CHP / hub, one message in flight
    per connection (each rate is bound by the round trip);
  * WebSocket streaming: the same echo with several messages in flight per
    connection (WS_STREAM; a kernel streaming output is like this), so the rate is
    bound by throughput rather than by one round trip — reported as a
    separate row set beside the one-in-flight one, never in its place;
  * for both, the proxy process's CPU time per request/message (user +
    system, from /proc), which depends far less on what else the machine
    is doing than the rates do;
  The HTTP and WebSocket runs are repeated --rounds times, the targets
  interleaved within each round, so load from other processes on the
  machine falls on all of them alike; tables give the median of the rounds
  and each round's ratio.
  * login -> first proxied 200 of a real Jupyter server through the hub, vs
    that server's own start-up time measured alone (the hub's part is the
    difference);
  * hub memory idle, and with 20 running servers + 100 open WebSockets;
  * JupyterHub 3.0 (Debian's package) where installed: its idle memory (hub +
    proxy) and login -> server ready.
Prints a markdown table and appends it, dated, to bench/RESULTS.md.
"""
import argparse
import datetime
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

import requests

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE.parents[1]
BUILD = pathlib.Path(os.environ.get("BUILD_DIR", SOURCE / "build"))
COURSEHUB = BUILD / "coursehub"
BACKEND = BUILD / "bench" / "bench_backend"
CHP = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
PY = "/usr/bin/python3"

procs = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_http(url, timeout=60, headers=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = requests.get(url, headers=headers, timeout=5)
            if r.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_rss_kb(pid):
    """RSS of a process and its descendants (JupyterHub + its proxy)."""
    total = rss_kb(pid)
    for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        total += tree_rss_kb(int(child))
    return total


def build():
    subprocess.run([str(SOURCE / "scripts" / "build.sh")], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(BUILD), "--target", "bench_backend"], check=True, stdout=subprocess.DEVNULL)
    if not CHP.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=HERE, check=True)


def start_backend():
    p = spawn([str(BACKEND), "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    return p, int(line.split()[1])


def start_chp(target_port):
    port, api = free_port(), free_port()
    p = spawn([str(CHP), "--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1", "--api-port", str(api),
               "--default-target", f"http://127.0.0.1:{target_port}", "--log-level", "warn"],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/user/bench/x")
    return p, port


class Hub:
    def __init__(self, root, config):
        self.prefix = root / "prefix"
        (self.prefix / "config").mkdir(parents=True, exist_ok=True)
        (self.prefix / "config" / "config.yaml").write_text(json.dumps(config))
        self.log = root / "hub.log"

    def cli(self, *args, input=None):
        return subprocess.run([str(COURSEHUB), *args, "--prefix", str(self.prefix)], input=input, text=True,
                              capture_output=True, check=True).stdout.strip()

    def start(self):
        out = open(self.log, "ab")
        self.proc = spawn([str(COURSEHUB), "serve", "--prefix", str(self.prefix), "--ip", "127.0.0.1", "--port", "0"],
                          stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = re.search(r"coursehub: listening on (http://\S+)", self.log.read_text())
            if m:
                self.url = m.group(1).rstrip("/") + "/"
                return self
            time.sleep(0.02)
        raise RuntimeError("hub did not start:\n" + self.log.read_text())

    def api(self, method, path, token, **kw):
        return requests.request(method, self.url + "hub/api/" + path, headers={"Authorization": f"token {token}"},
                                timeout=60, **kw)

    def start_server(self, name, token, timeout=180):
        r = self.api("POST", f"users/{name}/server", token)
        assert r.status_code in (201, 202), r.text
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.api("GET", f"users/{name}", token).json()["servers"].get("")
            if s and s["ready"]:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name}'s server did not start")

    def stop_all(self, token, names):
        for n in names:
            self.api("DELETE", f"users/{n}/server", token)
        for n in names:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.api("GET", f"users/{n}", token).json()["servers"]:
                time.sleep(0.1)


def wrk(url, conns, seconds, headers=()):
    threads = 2 if conns > 1 else 1
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout

    def ms(label):
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk got {errors.group(1)} error responses from {url}")
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%")}


WS_CONNS = (10, 64)            # one message in flight per connection
WS_STREAM = ((10, 16),)        # (connections, messages in flight per connection)


def ws_load(port, path, conns, seconds, headers=(), window=1):
    cmd = [str(BACKEND), "ws-load", "--port", str(port), "--path", path, "--conns", str(conns),
           "--seconds", str(seconds), "--size", "64", "--window", str(window)]
    for h in headers:
        cmd += ["--header", h]
    r = subprocess.run(cmd, capture_output=True, text=True)
    result = json.loads(r.stdout)
    if result["errors"]:
        raise RuntimeError(f"WebSocket load against {port}{path}: {result['errors']} connection errors")
    return result


def jupyter_own_startup(runs):
    """A Jupyter server started alone, polled every 5 ms until /api/status answers."""
    times = []
    for _ in range(runs):
        home = pathlib.Path(tempfile.mkdtemp(prefix="bench-jupyter-"))
        port = free_port()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "JUPYTER_TOKEN": "benchtoken", "LANG": "C.UTF-8"}
        t0 = time.monotonic()
        p = spawn([PY, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                   "--ServerApp.port_retries=0", "--ServerApp.open_browser=False", "--ServerApp.base_url=/user/b/",
                   f"--ServerApp.root_dir={home}", "--ServerApp.allow_root=True"],
                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/user/b/api/status"
        while True:
            try:
                if requests.get(url, headers={"Authorization": "token benchtoken"}, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.005)
        times.append(time.monotonic() - t0)
        stop(p)
        shutil.rmtree(home, ignore_errors=True)
    return statistics.median(times)


def login_to_first_200(hub, name, password):
    """A browser's journey: log in with next=/user/<name>/tree, the hub starts
    the server, the pending page's event stream says ready, the page loads."""
    s = requests.Session()
    t0 = time.monotonic()
    s.get(hub.url + "hub/login", timeout=60)
    xsrf = s.cookies.get("_xsrf")
    r = s.post(hub.url + "hub/login?next=%2Fuser%2F" + name + "%2Ftree",
               data={"username": name, "password": password, "_xsrf": xsrf}, allow_redirects=False, timeout=60)
    assert r.status_code == 302, r.text
    r = s.get(hub.url.rstrip("/") + r.headers["Location"], allow_redirects=False, timeout=60)
    if r.status_code == 302 and "spawn-pending" in r.headers["Location"]:
        ev = s.get(hub.url + f"hub/api/users/{name}/server/progress", params={"_xsrf": xsrf}, stream=True, timeout=180)
        for line in ev.iter_lines(decode_unicode=True):
            if line.startswith("data: ") and (json.loads(line[6:]).get("ready") or json.loads(line[6:]).get("failed")):
                break
        ev.close()
        r = s.get(hub.url + f"user/{name}/tree", timeout=60)
    assert r.status_code == 200, r.status_code
    return time.monotonic() - t0


def jupyterhub_baseline(root, runs):
    """JupyterHub 3.0 from Debian with its default proxy (npm's CHP on PATH):
    idle memory (hub + proxy) and login -> the user's server answering."""
    jh = shutil.which("jupyterhub")
    if not jh:
        return None
    port = free_port()
    cfg = root / "jupyterhub_config.py"
    users_home = root / "jh-homes"
    users_home.mkdir()
    cfg.write_text(f"""
c.JupyterHub.ip = '127.0.0.1'
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{free_port()}'
c.JupyterHub.authenticator_class = 'dummy'
c.DummyAuthenticator.password = 'Bench-Pass-123'
c.JupyterHub.spawner_class = 'simple'
c.SimpleLocalProcessSpawner.home_dir_template = '{users_home}/{{username}}'
c.Spawner.args = ['--allow-root']
c.Spawner.default_url = '/tree'
c.JupyterHub.db_url = 'sqlite:///{root}/jupyterhub.sqlite'
c.JupyterHub.cookie_secret_file = '{root}/jupyterhub_cookie_secret'
c.ConfigurableHTTPProxy.pid_file = '{root}/chp.pid'
""")
    env = dict(os.environ)
    env["PATH"] = f"{CHP.parent}:/usr/bin:/bin:/usr/sbin:/sbin"
    log = open(root / "jupyterhub.log", "ab")
    p = spawn([jh, "-f", str(cfg)], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    wait_http(base + "hub/api", timeout=120)
    time.sleep(3)
    idle = tree_rss_kb(p.pid)
    times = []
    for i in range(runs):
        name = f"jh{i}"
        s = requests.Session()
        t0 = time.monotonic()
        s.get(base + "hub/login", timeout=60)
        xsrf = s.cookies.get("_xsrf", "")
        # JupyterHub 3 does not start a server on a visit to /user/<name>/
        # (424): the login goes to /hub/spawn/<name>, as its home page does.
        r = s.post(base + "hub/login?next=" + urllib.parse.quote(f"/hub/spawn/{name}", safe=""),
                   data={"username": name, "password": "Bench-Pass-123", "_xsrf": xsrf}, timeout=180)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            r = s.get(base + f"user/{name}/tree", timeout=60)
            if r.status_code == 200 and r.url.endswith(f"/user/{name}/tree"):
                break
            time.sleep(0.02)
        else:
            raise RuntimeError(f"JupyterHub did not serve {name}'s server")
        times.append(time.monotonic() - t0)
    stop(p, signal.SIGINT)
    return {"idle_kb": idle, "login_to_ready": statistics.median(times)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5, help="start-up measurements (median)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the HTTP and WebSocket runs (median)")
    ap.add_argument("--quick", action="store_true", help="3 s runs, 2 repetitions, 1 round (a smoke test)")
    ap.add_argument("--no-jupyterhub", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--http-only", action="store_true", help="only the HTTP and WebSocket rates (while tuning)")
    ap.add_argument("--ws-only", action="store_true", help="only the WebSocket rates (while tuning)")
    args = ap.parse_args()
    if args.ws_only:
        args.http_only = True
    if args.quick:
        args.seconds, args.runs, args.rounds = 3, 2, 1
    if not args.no_build:
        build()
    root = pathlib.Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    rows = []
    try:
        backend, bport = start_backend()
        chp, cport = start_chp(bport)
        # admin_access: the admin "bench" opens the WebSockets of all 20 servers.
        hub = Hub(root / "hub", {"spawner": {"cmd": [str(BACKEND), "serve"]}, "admin_access": True,
                                 "services": {"cull": {"enabled": False}}})
        hub.prefix.parent.mkdir(parents=True, exist_ok=True)
        hub.cli("user", "add", "bench", "--admin", "--password-stdin", input="Bench-Pass-123\n")
        token = hub.cli("token", "create", "bench")
        hub.start()
        time.sleep(1)
        hub_idle = rss_kb(hub.proc.pid)
        hub.start_server("bench", token)
        auth = [f"Authorization: token {token}"]
        hub_port = int(hub.url.split(":")[2].split("/")[0])
        # (label, HTTP url, WebSocket port, headers, the proxy's pid)
        targets = [("direct", f"http://127.0.0.1:{bport}/user/bench/x", bport, (), None),
                   ("configurable-http-proxy 5.3", f"http://127.0.0.1:{cport}/user/bench/x", cport, (), chp.pid),
                   ("coursehub", hub.url + "user/bench/x", hub_port, auth, hub.proc.pid)]
        http_rounds, ws_rounds, stream_rounds = [], [], []
        for _ in range(args.rounds):
            http_round, ws_round, stream_round = {}, {}, {}
            for conns in () if args.ws_only else (64, 1):
                for label, url, _, hdrs, pid in targets:
                    cpu0 = cpu_seconds(pid) if pid else 0
                    r = wrk(url, conns, args.seconds, hdrs)
                    if pid:
                        r["cpu_us"] = (cpu_seconds(pid) - cpu0) / max(1, r["rps"] * args.seconds) * 1e6
                    http_round[(label, conns)] = r
            for (conns, window), into in [((c, 1), ws_round) for c in WS_CONNS] + [(cw, stream_round) for cw in WS_STREAM]:
                for label, _, port, hdrs, pid in targets:
                    cpu0 = cpu_seconds(pid) if pid else 0
                    w = ws_load(port, "/user/bench/ws", conns, args.seconds, hdrs, window)
                    if pid:
                        # Includes the handshake and the 0.5 s warm-up: a slight overestimate for both proxies.
                        w["cpu_us"] = (cpu_seconds(pid) - cpu0) / max(1, w["messages"]) * 1e6
                    into[(label, conns if window == 1 else (conns, window))] = w
            http_rounds.append(http_round)
            ws_rounds.append(ws_round)
            stream_rounds.append(stream_round)

        def medians(rounds):
            out = {}
            for key in rounds[0]:
                out[key] = {f: statistics.median(r[key][f] for r in rounds) for f in rounds[0][key]
                            if isinstance(rounds[0][key][f], (int, float))}
            return out
        http, ws, stream = medians(http_rounds) if http_rounds[0] else {}, medians(ws_rounds), medians(stream_rounds)

        if args.http_only:
            for label, *_ in targets:
                for conns in () if args.ws_only else (64, 1):
                    r = http[(label, conns)]
                    print(f"{label:30} c={conns:2} {r['rps']:8.0f} req/s p50 {r['p50']:.3f} ms p99 {r['p99']:.3f} ms")
            for (label, conns), w in ws.items():
                print(f"{label:30} ws c={conns:2} {w['rate']:8.0f} msg/s p50 {w['p50_us']} us p99 {w['p99_us']} us"
                      f" cpu {w.get('cpu_us', 0):.1f} us/msg")
            for (label, (conns, window)), w in stream.items():
                print(f"{label:30} ws c={conns:2} w={window} {w['rate']:8.0f} msg/s p50 {w['p50_us']} us "
                      f"p99 {w['p99_us']} us cpu {w.get('cpu_us', 0):.1f} us/msg")
            hub.stop_all(token, ["bench"])
            return 0
        # 20 servers and 100 WebSockets held open.
        names = [f"u{i:02d}" for i in range(19)]
        for n in names:
            hub.cli("user", "add", n)
        for n in names:
            hub.start_server(n, token)
        holders = []
        for i in range(100):
            n = (["bench"] + names)[i % 20]
            holders.append(spawn([str(BACKEND), "ws-load", "--port", str(hub_port), "--path", f"/user/{n}/ws",
                                  "--conns", "1", "--seconds", "20", "--size", "16", "--header", auth[0]],
                                 stdout=subprocess.DEVNULL))
        time.sleep(8)
        hub_loaded = rss_kb(hub.proc.pid)
        for h in holders:
            stop(h)
        # A relay is logged when it ends: the two echo runs, then the 100 held open.
        deadline = time.monotonic() + 30
        while True:
            relayed = sum(1 for line in hub.log.read_text().splitlines() if " 101 GET /user/" in line)
            if relayed >= sum(WS_CONNS) + sum(c for c, _ in WS_STREAM) + 100:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {relayed} WebSockets were relayed by the hub")
            time.sleep(0.1)
        hub.stop_all(token, ["bench"] + names)
        left = [n for n in ["bench"] + names if hub.api("GET", f"users/{n}", token).json()["servers"]]
        if left:
            raise RuntimeError(f"servers still running after stop: {left}")
        stop(hub.proc)
        stop(chp)
        stop(backend)

        # Login -> first proxied 200 with real Jupyter, vs Jupyter alone.
        own = jupyter_own_startup(args.runs)
        jhub = Hub(root / "jhub", {"services": {"cull": {"enabled": False}}})
        jhub.prefix.parent.mkdir(parents=True, exist_ok=True)
        jhub.cli("user", "add", "admin", "--admin", "--password-stdin", input="Admin-Pass-123\n")
        admin = jhub.cli("token", "create", "admin")
        for i in range(args.runs):
            jhub.cli("user", "add", f"s{i}", "--password-stdin", input="Student-Pass-123\n")
        jhub.start()
        journeys = [login_to_first_200(jhub, f"s{i}", "Student-Pass-123") for i in range(args.runs)]
        jhub.stop_all(admin, [f"s{i}" for i in range(args.runs)])
        stop(jhub.proc)
        journey = statistics.median(journeys)

        jh = None if args.no_jupyterhub else jupyterhub_baseline(root, args.runs)
    finally:
        for p in procs:
            stop(p)

    chp_label = "configurable-http-proxy 5.3"
    lines = []
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines.append(f"## bench/proxy — {date}\n")
    lines.append(f"`bench/proxy/run.py --seconds {args.seconds} --runs {args.runs} --rounds {args.rounds}`; "
                 f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; wrk, 1 KiB answers from "
                 "the same backend; 64 connections use 2 wrk threads; median of the rounds (targets interleaved "
                 "in each round); proxy CPU = the proxy process's user + system time per request or message.\n")

    def per_round(rounds, key, f, a, b, invert=False):
        vals = [(r[(b, key)][f] / r[(a, key)][f]) if invert else (r[(a, key)][f] / r[(b, key)][f]) for r in rounds]
        return ", ".join(f"{v:.1f}×" for v in vals)

    def cpu_cell(r):
        return f"{r['cpu_us']:.1f}" if "cpu_us" in r else "–"
    lines.append("| HTTP | conns | requests/s | p50 ms | p99 ms | proxy CPU µs/request |")
    lines.append("|---|---|---|---|---|---|")
    for conns in (64, 1):
        for label, *_ in targets:
            r = http[(label, conns)]
            lines.append(f"| {label} | {conns} | {r['rps']:.0f} | {r['p50']:.3f} | {r['p99']:.3f} | {cpu_cell(r)} |")
    h64, c64 = http[("coursehub", 64)], http[(chp_label, 64)]
    h1, c1, d1 = http[("coursehub", 1)], http[(chp_label, 1)], http[("direct", 1)]
    added = [r[("coursehub", 1)]["p50"] - r[("direct", 1)]["p50"] for r in http_rounds]
    lines.append("")
    lines.append(f"- coursehub / CHP requests/s at 64 connections: **{h64['rps'] / c64['rps']:.1f}×** (target ≥ 3×); "
                 f"rounds: {per_round(http_rounds, 64, 'rps', 'coursehub', chp_label)}")
    lines.append(f"- CHP p99 / coursehub p99 at 64 connections: **{c64['p99'] / h64['p99']:.1f}×** (target ≥ 5×); "
                 f"rounds: {per_round(http_rounds, 64, 'p99', 'coursehub', chp_label, invert=True)}")
    lines.append(f"- added p50 at 1 connection: coursehub **{statistics.median(added):.3f} ms** (target < 0.1 ms; "
                 f"rounds: {', '.join(f'{a:.3f}' for a in added)}), CHP {c1['p50'] - d1['p50']:.3f} ms")
    lines.append(f"- proxy CPU per request, CHP / coursehub: 64 connections {c64['cpu_us'] / h64['cpu_us']:.1f}×, "
                 f"1 connection {c1['cpu_us'] / h1['cpu_us']:.1f}×")
    lines.append("")
    lines.append("| WebSocket echo, 64 B messages | conns | messages/s | p50 µs | p99 µs | proxy CPU µs/message |")
    lines.append("|---|---|---|---|---|---|")
    for conns in WS_CONNS:
        for label in ("direct", chp_label, "coursehub"):
            w = ws[(label, conns)]
            lines.append(f"| {label} | {conns} | {w['rate']:.0f} | {w['p50_us']:.0f} | {w['p99_us']:.0f} | {cpu_cell(w)} |")
    lines.append("")
    for conns in WS_CONNS:
        hw, cw, dw = ws[("coursehub", conns)], ws[(chp_label, conns)], ws[("direct", conns)]
        lines.append(f"- coursehub / CHP WebSocket messages/s at {conns} connections: **{hw['rate'] / cw['rate']:.1f}×** "
                     f"(target ≥ 3×); rounds: {per_round(ws_rounds, conns, 'rate', 'coursehub', chp_label)}; "
                     f"proxy CPU per message CHP / coursehub {cw['cpu_us'] / hw['cpu_us']:.1f}×; "
                     f"a proxy that cost nothing (direct / CHP) would reach {dw['rate'] / cw['rate']:.1f}×")
    lines.append("")
    # An additional measurement, not the target's: several messages in flight per connection.
    lines.append("| WebSocket streaming (additional), 64 B messages | conns × in flight | messages/s | p50 µs | p99 µs "
                 "| proxy CPU µs/message |")
    lines.append("|---|---|---|---|---|---|")
    for conns, window in WS_STREAM:
        for label in ("direct", chp_label, "coursehub"):
            w = stream[(label, (conns, window))]
            lines.append(f"| {label} | {conns} × {window} | {w['rate']:.0f} | {w['p50_us']:.0f} | {w['p99_us']:.0f} "
                         f"| {cpu_cell(w)} |")
    lines.append("")
    for conns, window in WS_STREAM:
        key = (conns, window)
        hw, cw, dw = stream[("coursehub", key)], stream[(chp_label, key)], stream[("direct", key)]
        lines.append(f"- streaming, coursehub / CHP messages/s at {conns} connections × {window} in flight: "
                     f"**{hw['rate'] / cw['rate']:.1f}×**; rounds: "
                     f"{per_round(stream_rounds, key, 'rate', 'coursehub', chp_label)}; proxy CPU per message "
                     f"CHP / coursehub {cw['cpu_us'] / hw['cpu_us']:.1f}×; direct / CHP {dw['rate'] / cw['rate']:.1f}×")
    lines.append("")
    lines.append("| start-up (median of %d) | seconds |" % args.runs)
    lines.append("|---|---|")
    lines.append(f"| Jupyter server alone, launch → /api/status 200 | {own:.3f} |")
    lines.append(f"| coursehub: login → first proxied 200 of /user/<name>/tree | {journey:.3f} |")
    lines.append(f"| coursehub's part (difference) | **{(journey - own) * 1000:.0f} ms** (target < 100 ms) |")
    if jh:
        lines.append(f"| JupyterHub 3.0 + CHP: login → server answering | {jh['login_to_ready']:.3f} |")
    lines.append("")
    lines.append("| memory (RSS) | MB |")
    lines.append("|---|---|")
    lines.append(f"| coursehub idle | {hub_idle / 1024:.1f} (target < 30) |")
    lines.append(f"| coursehub, 20 servers + 100 WebSockets | {hub_loaded / 1024:.1f} (target < 60) |")
    if jh:
        lines.append(f"| JupyterHub 3.0 + CHP idle | {jh['idle_kb'] / 1024:.1f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    with open(SOURCE / "bench" / "RESULTS.md", "a") as f:
        f.write("\n" + table)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
