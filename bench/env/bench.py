#!/usr/bin/python3
"""Benchmarks of the shared environment manager, each against its baseline in
the same run (see bench/env/README.md).  Appends a dated table to
bench/RESULTS.md.

  bench/env/run.sh [--rounds N]
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
import time

ROOT = pathlib.Path(os.environ.get("COURSEHUB_SOURCE", pathlib.Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import pkgindex  # noqa: E402

BIN = pathlib.Path(os.environ.get("COURSEHUB_BIN", ROOT / "build" / "coursehub"))
PACKAGES = [f"chbench{i}" for i in range(10)]


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and not k.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=clean_env(), **kw)
    if r.returncode != 0:
        raise SystemExit(f"failed: {cmd}\n{r.stdout}\n{r.stderr}")
    return r


def timed(cmd, **kw):
    t0 = time.perf_counter()
    run(cmd, **kw)
    return time.perf_counter() - t0


def coursehub(prefix, *args, index_url=None):
    cmd = [BIN, "env", *args, "--prefix", prefix]
    if index_url:
        cmd += ["--index-url", index_url]
    return cmd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--list-runs", type=int, default=30)
    ap.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    opts = ap.parse_args()
    if not BIN.exists():
        raise SystemExit(f"build coursehub first ({BIN} is missing)")

    work = pathlib.Path(tempfile.mkdtemp(prefix="coursehub-bench-env-"))
    try:
        pkgindex.build_packages(work / "files")
        pkgindex.write_simple_index(work / "files", work / "index")
        idx = pkgindex.PackageIndex(work / "index")
        rows = []

        # 1. list --json vs pip list --format=json, system site-packages visible.
        p = work / "list"
        p.mkdir()
        run(coursehub(p, "init", "--system-site-packages"))
        run(coursehub(p, "install", "chgamma", index_url=idx.url))
        ours_out = json.loads(run(coursehub(p, "list", "--json")).stdout)
        pip_cmd = [p / "user" / "bin" / "python", "-m", "pip", "list", "--format=json",
                   "--disable-pip-version-check"]
        pip_out = json.loads(run(pip_cmd, cwd="/").stdout)
        same = [(d["name"], d["version"]) for d in ours_out] == [(d["name"], d["version"]) for d in pip_out]
        run(coursehub(p, "list", "--json"))  # warm the page cache for both
        run(pip_cmd, cwd="/")
        ours = statistics.median(timed(coursehub(p, "list", "--json")) for _ in range(opts.list_runs))
        pips = statistics.median(timed(pip_cmd, cwd="/") for _ in range(max(5, opts.list_runs // 3)))
        rows.append((f"list {len(ours_out)} distributions (identical output: {'yes' if same else 'NO'})",
                     "`coursehub env list --json`", ours, "`pip list --format=json`", pips,
                     f"{pips / ours:.0f}x faster", ">= 50x"))

        # 2. installing 10 packages: coursehub vs plain pip, same local index.
        def fresh_venv(name):
            d = work / name
            run(["/usr/bin/python3", "-m", "venv", d])
            return d

        def fresh_env(name):
            d = work / name
            d.mkdir()
            run(coursehub(d, "init"))
            return d

        # one unmeasured round each, so pip's HTTP cache is equally warm
        run([fresh_venv("warm-pip") / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check",
             "--index-url", idx.url, *PACKAGES])
        run(coursehub(fresh_env("warm-ch"), "install", *PACKAGES, index_url=idx.url))
        pip_times, ch_times, undo_times, redo_times = [], [], [], []
        for r in range(opts.rounds):
            v = fresh_venv(f"pip{r}")
            pip_times.append(timed([v / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check",
                                    "--index-url", idx.url, *PACKAGES]))
            e = fresh_env(f"ch{r}")
            ch_times.append(timed(coursehub(e, "install", *PACKAGES, index_url=idx.url)))
        ours, pips = statistics.median(ch_times), statistics.median(pip_times)
        rows.append(("install 10 packages from a local index", "`coursehub env install` (wheelhouse + "
                     "transaction)", ours, "`pip install`", pips, f"{ours / pips:.2f}x pip's time", "<= 1.3x"))

        # 3. rolling back that 10-package transaction with the index offline.
        idx.stop()
        for r in range(opts.rounds):
            e = work / f"ch{r}"
            undo_times.append(timed(coursehub(e, "rollback", index_url=idx.url)))   # removes the 10
            redo_times.append(timed(coursehub(e, "rollback", index_url=idx.url)))   # puts them back
            own = [d for d in json.loads(run(coursehub(e, "list", "--json")).stdout) if d["location"] == "own"]
            assert len(own) == 12, own
        rows.append(("roll back the 10-package install, index offline", "`coursehub env rollback` (uninstall 10)",
                     statistics.median(undo_times), "-", None, "reported", "report"))
        rows.append(("roll back that rollback, index offline", "`coursehub env rollback` (reinstall 10 from the "
                     "wheelhouse)", statistics.median(redo_times), "-", None, "reported", "report"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def fmt(t):
        return "-" if t is None else (f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s")

    load = os.getloadavg()[0]
    head = (f"\n## env ({datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, bench/env/run.sh, "
            f"{os.cpu_count()} cores, load {load:.1f}, medians of {opts.rounds} rounds / {opts.list_runs} list runs)\n\n"
            "| what | coursehub | time | baseline | time | result | target |\n"
            "|---|---|---|---|---|---|---|\n")
    table = head + "".join(f"| {w} | {a} | {fmt(ta)} | {b} | {fmt(tb)} | {res} | {tgt} |\n"
                           for w, a, ta, b, tb, res, tgt in rows)
    print(table)
    if not opts.no_record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write(table)


if __name__ == "__main__":
    main()
