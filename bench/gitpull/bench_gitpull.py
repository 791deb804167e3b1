#!/usr/bin/python3
"""The class-start burst: 60 logged-in students click the same git-pull link
within one second; side by side in the same run with the nbgitpuller
equivalent, 60 concurrent `git clone --depth 1` (one per student).

The course repository is examples/make_course_repo.py's realistic one (about
150 files, 30 MB of working tree), served over smart HTTP on 127.0.0.1 by
tests/integration/githttp.py (lighttpd + git http-backend), which logs every
request that reaches git, so upstream work is counted exactly.

coursehub side: HTTP clients with each student's session open the event
stream (`/user/<name>/git-pull/api?...&_xsrf=`) as the progress page does,
spread uniformly over one second, and read it to the end.  Meanwhile another
client calls GET /hub/api/user (token auth) back to back: the hub's latency
for unrelated requests during the burst.

Usage: bench/gitpull/bench_gitpull.py [--students 60] [--scale 1.0] [--results bench/RESULTS.md]
Only loopback traffic; every loop is bounded.
"""
import argparse
import datetime
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "examples"))

from githttp import GitHttpServer  # noqa: E402
from hubproc import Hub  # noqa: E402
import make_course_repo  # noqa: E402

PASSWORD = "Bench-Pass-{:03d}"


def pct(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def burst_coursehub(hub, url, sessions, window):
    results = {}
    start_at = time.monotonic() + 0.5
    n = len(sessions)

    def student(i, name, s):
        xsrf = s.cookies.get("_xsrf")
        q = urllib.parse.urlencode({"repo": url, "branch": "main", "targetpath": "course", "_xsrf": xsrf})
        delay = start_at + window * i / max(1, n - 1) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.monotonic()
        last = None
        with s.get(f"{hub.url}user/{name}/git-pull/api?{q}", stream=True, timeout=600) as r:
            for line in r.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    last = json.loads(line[6:])
        results[name] = (time.monotonic() - t0, time.monotonic() - start_at, last)

    threads = [threading.Thread(target=student, args=(i, name, s)) for i, (name, s) in enumerate(sessions)]
    for t in threads:
        t.start()
    return threads, results, start_at


def probe_api(hub, token, stop, out):
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    deadline = time.monotonic() + 900
    while not stop.is_set() and time.monotonic() < deadline:
        t0 = time.monotonic()
        r = s.get(hub.url + "hub/api/user", timeout=60)
        out.append((time.monotonic() - t0) * 1000)
        assert r.status_code == 200
        time.sleep(0.01)


def burst_git_clone(url, root, n, window):
    results = []
    start_at = time.monotonic() + 0.5
    lock = threading.Lock()

    def one(i):
        delay = start_at + window * i / max(1, n - 1) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.monotonic()
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "main", url, str(root / f"s{i}" / "course")],
                       check=True, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        with lock:
            results.append((time.monotonic() - t0, time.monotonic() - start_at))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(900)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=60)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=1.0, help="seconds over which the clicks are spread")
    ap.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    args = ap.parse_args()
    n = args.students

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-gitpull-"))
    try:
        print(f"generating the course repository (scale {args.scale})...", flush=True)
        make_course_repo.generate(tmp / "teacher", seed=1, scale=args.scale)
        size = sum(p.stat().st_size for p in (tmp / "teacher").rglob("*") if p.is_file() and ".git" not in p.parts)
        files = sum(1 for p in (tmp / "teacher").rglob("*") if p.is_file() and ".git" not in p.parts)
        with GitHttpServer(tmp / "srv") as srv:
            url = srv.add_repo("course", tmp / "teacher")
            config = {"auth": {"type": "native"}, "gitpuller": {"allowed_sources": [srv.base_url + "/"]}}
            with Hub(tmp / "hub", config=config) as hub:
                csv = "name,password\n" + "".join(f"s{i:03d},{PASSWORD.format(i)}\n" for i in range(n))
                hub.cli("user", "import", "-", input=csv)
                hub.add_user("probe", "Probe-Pass-123")
                token = hub.token("probe")
                print(f"logging {n} students in...", flush=True)
                sessions = [(f"s{i:03d}", hub.login(f"s{i:03d}", PASSWORD.format(i))) for i in range(n)]
                for _, s in sessions:
                    hub.xsrf(s)
                # Unloaded latency of the probe, for reference.
                idle = []
                stop = threading.Event()
                stop_after = threading.Timer(3.0, stop.set)
                stop_after.start()
                probe_api(hub, token, stop, idle)

                srv.reset_log()
                print(f"coursehub: {n} clicks within {args.window:g} s...", flush=True)
                lat = []
                stop = threading.Event()
                prober = threading.Thread(target=probe_api, args=(hub, token, stop, lat))
                prober.start()
                threads, results, _ = burst_coursehub(hub, url, sessions, args.window)
                for t in threads:
                    t.join(900)
                stop.set()
                prober.join(120)
                fetches = srv.count("fetch", "course") + srv.count("v2", "course")
                total = srv.count(None, "course")
                failed = [k for k, (_, _, last) in results.items() if not last or last.get("phase") != "finished"]
                if failed:
                    raise SystemExit(f"{len(failed)} syncs did not finish: {results[failed[0]]}\n{hub.log()[-3000:]}")
                ours = [d for d, _, _ in results.values()]
                ours_last = max(end for _, end, _ in results.values())

            srv.reset_log()
            print(f"baseline: {n} x git clone --depth 1 within {args.window:g} s...", flush=True)
            base = burst_git_clone(url, tmp / "clones", n, args.window)
            # git's protocol v2 makes two POSTs per clone (ls-refs, then the
            # pack); libgit2 (the hub) speaks v0: one POST per pack.
            base_fetches = srv.count("fetch", "course") + srv.count("v2", "course") // 2
            base_total = srv.count(None, "course")
            base_d = [d for d, _ in base]
            base_last = max(end for _, end in base)

        rows = [
            ("time to the last finished sync", f"{ours_last:.2f} s", f"{base_last:.2f} s", base_last / ours_last),
            ("per student: p50", f"{pct(ours, 50):.2f} s", f"{pct(base_d, 50):.2f} s", pct(base_d, 50) / pct(ours, 50)),
            ("per student: p95", f"{pct(ours, 95):.2f} s", f"{pct(base_d, 95):.2f} s", pct(base_d, 95) / pct(ours, 95)),
            ("upstream pack downloads", str(fetches), str(base_fetches), base_fetches / max(1, fetches)),
            ("upstream requests reaching git (all kinds)", str(total), str(base_total), base_total / max(1, total)),
        ]
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        table = [
            f"## git-pull burst — {stamp} (`bench/gitpull/run.sh`)",
            "",
            f"{os.cpu_count()} cores. {n} logged-in students click one link within {args.window:g} s (HTTP clients "
            f"reading the event streams to the end); course repo from examples/make_course_repo.py "
            f"(scale {args.scale:g}: {files} files, {size / 1e6:.1f} MB working tree) over smart HTTP on loopback "
            f"(lighttpd + git http-backend). Baseline: {n} concurrent `git clone --depth 1` (what nbgitpuller runs "
            f"per student). Lower is better; ratio = baseline / coursehub.",
            "",
            "| measure | coursehub | git clone --depth 1 | ratio |",
            "|---|---|---|---|",
        ]
        for name, a, b, r in rows:
            table.append(f"| {name} | {a} | {b} | {'' if r is None else f'{r:.1f}×'} |")
        table += [
            "",
            f"Hub latency of GET /hub/api/user during the burst ({len(lat)} calls, token auth): "
            f"p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms "
            f"(idle: p50 {pct(idle, 50):.1f} ms, p99 {pct(idle, 99):.1f} ms).",
            "",
        ]
        text = "\n".join(table)
        print(text)
        with open(args.results, "a") as f:
            f.write("\n" + text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
