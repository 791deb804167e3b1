#!/usr/bin/python3
"""coursehub's hub vs JupyterHub 3.0 (Debian), side by side in one run:

1. 100 users logging in at once (the class-start moment): p50/p99 latency of
   the login POST, and the hub's CPU time during the burst.
2. GET /hub/api/users with 1,000 users (default page and limit=200): p50/p99.
3. Hub memory (RSS): idle, and with 1,000 users and 100 open sessions.

JupyterHub runs with a stand-in for NativeAuthenticator (bcrypt, 12 rounds,
checked in the hub process, as NativeAuthenticator does) behind its default
proxy, configurable-http-proxy; its memory is reported as hub + proxy.
coursehub uses its own native authenticator (argon2id).

Usage: bench/hub/bench_hub.py [--skip-jupyterhub] [--results bench/RESULTS.md]
Only loopback traffic; every loop is bounded.
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
import threading
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("COURSEHUB_BIN", ROOT / "build" / "coursehub"))
USERS = 1000
LOGINS = 100
API_REQUESTS = 300
PASSWORD = "Bench-Pass-{:04d}"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def wait_http(url, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def login_burst(base, names, form_extra):
    """All users GET the login page, then POST it at the same moment."""
    barrier = threading.Barrier(len(names))
    latencies, failures = [], []
    lock = threading.Lock()

    def one(i, name):
        s = requests.Session()
        page = s.get(base + "hub/login", timeout=120)
        data = {"username": name, "password": PASSWORD.format(i)}
        m = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        if m:
            data["_xsrf"] = m.group(1)
        data.update(form_extra)
        barrier.wait(timeout=300)
        t0 = time.perf_counter()
        r = s.post(base + "hub/login", data=data, allow_redirects=False, timeout=300)
        dt = time.perf_counter() - t0
        with lock:
            if r.status_code == 302:
                latencies.append(dt)
            else:
                failures.append(r.status_code)
        with lock:
            sessions.append(s)

    sessions = []
    threads = [threading.Thread(target=one, args=(i, n)) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    if failures:
        raise RuntimeError(f"{len(failures)} logins failed: {failures[:5]}")
    return latencies, sessions


def api_latencies(url, token, n=API_REQUESTS, accept=None):
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    if accept:
        s.headers["Accept"] = accept
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = s.get(url, timeout=60)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text[:200]
    body = r.json()
    return out, len(body["items"] if isinstance(body, dict) else body)


class CourseHub:
    name = "coursehub"

    def __init__(self, work):
        self.work = work / "coursehub"
        self.prefix = self.work / "prefix"
        self.prefix.mkdir(parents=True)
        self.proc = None

    def cli(self, *args, input=None):
        return subprocess.run([str(BIN), *args, "--prefix", str(self.prefix)], input=input, text=True,
                              capture_output=True, check=True).stdout

    def start(self):
        log = open(self.work / "hub.log", "ab")
        self.proc = subprocess.Popen([str(BIN), "serve", "--prefix", str(self.prefix), "--ip", "127.0.0.1", "--port", "0"],
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = re.search(r"coursehub: listening on (\S+)", (self.work / "hub.log").read_text())
            if m:
                self.base = m.group(1)
                return
            time.sleep(0.05)
        raise RuntimeError("coursehub did not start")

    def pids(self):
        return [self.proc.pid]

    def setup_users(self):
        self.cli("user", "add", "bench-admin", "--admin")
        self.token = self.cli("token", "create", "bench-admin").strip()
        lines = ["name,password"]
        for i in range(USERS):
            lines.append(f"user{i:04d},{PASSWORD.format(i)}" if i < LOGINS else f"user{i:04d}")
        csv = self.work / "users.csv"
        csv.write_text("\n".join(lines) + "\n")
        self.cli("user", "import", str(csv))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


JH_CONFIG = r'''
import json
import bcrypt
from jupyterhub.auth import Authenticator
from tornado.concurrent import run_on_executor

HASHES = {{k: v.encode() for k, v in json.load(open({hashes!r})).items()}}

class BcryptAuthenticator(Authenticator):
    """NativeAuthenticator's password check (bcrypt, in the hub process)."""
    async def authenticate(self, handler, data):
        h = HASHES.get(data["username"])
        if h and bcrypt.checkpw(data["password"].encode(), h):
            return data["username"]
        return None

c.JupyterHub.authenticator_class = BcryptAuthenticator
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.db_url = "sqlite:///{work}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{work}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{work}/jupyterhub.pid"
c.ConfigurableHTTPProxy.pid_file = "{work}/proxy.pid"
c.JupyterHub.services = [{{"name": "bench", "api_token": "{token}", "admin": True}}]
c.Authenticator.admin_users = {{"bench-admin"}}
c.JupyterHub.log_level = "WARN"
'''


class JupyterHub:
    name = "JupyterHub 3.0"

    def __init__(self, work):
        self.work = work / "jupyterhub"
        self.work.mkdir(parents=True)
        self.token = "benchtoken" + "0" * 22
        self.proc = None

    def start(self):
        import bcrypt
        hashes = self.work / "hashes.json"
        if not hashes.exists():
            salt_rounds = 12  # NativeAuthenticator's bcrypt.gensalt() default
            hashes.write_text(json.dumps({f"user{i:04d}": bcrypt.hashpw(PASSWORD.format(i).encode(),
                                                                          bcrypt.gensalt(salt_rounds)).decode()
                                          for i in range(LOGINS)}))
        port = free_port()
        (self.work / "jupyterhub_config.py").write_text(JH_CONFIG.format(
            hashes=str(hashes), port=port, hub_port=free_port(), api_port=free_port(), work=self.work, token=self.token))
        log = open(self.work / "jupyterhub.log", "ab")
        # Debian's configurable-http-proxy finds its modules in /usr/share/nodejs, which a
        # Node.js from outside Debian does not search by itself.
        env = dict(os.environ, NODE_PATH="/usr/share/nodejs")
        self.proc = subprocess.Popen([shutil.which("jupyterhub"), "-f", str(self.work / "jupyterhub_config.py")],
                                     cwd=self.work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env=env)
        self.base = f"http://127.0.0.1:{port}/"
        wait_http(self.base + "hub/api")

    def pids(self):
        pids = [self.proc.pid]
        proxy = self.work / "proxy.pid"
        if proxy.exists():
            pids.append(int(proxy.read_text().strip()))
        return pids

    def setup_users(self):
        api = requests.Session()
        api.headers["Authorization"] = f"token {self.token}"
        names = [f"user{i:04d}" for i in range(USERS)]
        for k in range(0, USERS, 200):
            r = api.post(self.base + "hub/api/users", json={"usernames": names[k:k + 200]}, timeout=300)
            assert r.status_code == 201, r.text[:300]

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def measure(hub):
    hub.start()
    time.sleep(2)  # let start-up allocations settle before the idle reading
    idle = sum(rss_mb(p) for p in hub.pids())
    hub.setup_users()
    names = [f"user{i:04d}" for i in range(LOGINS)]
    cpu0 = sum(cpu_seconds(p) for p in hub.pids())
    t0 = time.perf_counter()
    lat, sessions = login_burst(hub.base, names, {})
    wall = time.perf_counter() - t0
    cpu = sum(cpu_seconds(p) for p in hub.pids()) - cpu0
    api_default, n_default = api_latencies(hub.base + "hub/api/users", hub.token)
    api_200, n_200 = api_latencies(hub.base + "hub/api/users?offset=500", hub.token,
                                   accept="application/jupyterhub-pagination+json")
    loaded = sum(rss_mb(p) for p in hub.pids())
    assert len(sessions) == LOGINS
    hub.stop()
    return {
        "login_p50": percentile(lat, 50), "login_p99": percentile(lat, 99), "login_wall": wall, "login_cpu": cpu,
        "api_p50": percentile(api_default, 50), "api_p99": percentile(api_default, 99), "api_n": n_default,
        "api200_p50": percentile(api_200, 50), "api200_p99": percentile(api_200, 99), "api200_n": n_200,
        "rss_idle": idle, "rss_loaded": loaded,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-jupyterhub", action="store_true")
    ap.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-hub-"))
    results = {}
    try:
        results["coursehub"] = measure(CourseHub(work))
        if not args.skip_jupyterhub:
            results["jupyterhub"] = measure(JupyterHub(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ms = lambda v: f"{v * 1000:.1f} ms"
    rows = [
        ("100 logins at once: p50", "login_p50", ms), ("100 logins at once: p99", "login_p99", ms),
        ("100 logins: all done after", "login_wall", lambda v: f"{v:.2f} s"),
        ("100 logins: hub CPU", "login_cpu", lambda v: f"{v:.2f} s"),
        ("GET /hub/api/users (200 of 1,000): p50", "api_p50", ms),
        ("GET /hub/api/users (200 of 1,000): p99", "api_p99", ms),
        ("GET /hub/api/users?offset=500, paginated (50): p50", "api200_p50", ms),
        ("GET /hub/api/users?offset=500, paginated (50): p99", "api200_p99", ms),
        ("RSS idle", "rss_idle", lambda v: f"{v:.1f} MB"),
        ("RSS with 1,000 users + 100 sessions", "rss_loaded", lambda v: f"{v:.1f} MB"),
    ]
    c, j = results["coursehub"], results.get("jupyterhub")
    out = [f"## Hub core — {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} (`bench/hub/run.sh`)", "",
           f"{os.cpu_count()} cores. coursehub: native auth, argon2id (t=2, 19 MiB). "
           "JupyterHub 3.0 (Debian) + configurable-http-proxy 4.5 (Debian), NativeAuthenticator's bcrypt(12) check; "
           "its RSS is hub + proxy. Lower is better; ratio = JupyterHub / coursehub.", "",
           "| measure | coursehub | JupyterHub 3.0 | ratio |", "|---|---|---|---|"]
    for label, key, fmt in rows:
        jv = fmt(j[key]) if j else "—"
        ratio = f"{j[key] / c[key]:.1f}×" if j and c[key] > 0 else "—"
        out.append(f"| {label} | {fmt(c[key])} | {jv} | {ratio} |")
    out.append("")
    out.append(f"Users returned per API call: {c['api_n']} and {c['api200_n']} "
               f"(JupyterHub {j['api_n'] if j else '—'} and {j['api200_n'] if j else '—'}); "
               f"{API_REQUESTS} sequential calls each, keep-alive, token auth.")
    table = "\n".join(out) + "\n"
    print(table)
    with open(args.results, "a") as f:
        f.write("\n" + table)


if __name__ == "__main__":
    sys.exit(main())
