#!/usr/bin/python3
"""Sync engine benchmark: coursehub pull against nbgitpuller's git commands,
side by side in one run, on a realistic course repository served over smart
HTTP on loopback.

    bench/sync/run.py [--reps 7] [--burst 60] [--burst-reps 3] [--no-append]

Measurements (medians over the repetitions):
  1. first sync of one student: `git clone --depth 1` vs `coursehub pull
     --prefix` with a cold cache (first student of all) and a warm one;
  2. a class burst: N students at the same moment (N processes, N folders),
     wall time until the last is done, and the requests the web server saw;
  3. re-sync when nothing changed upstream: nbgitpuller's update sequence vs
     `coursehub pull` (a new process per sync), and vs the engine run
     in-process the way the hub runs it in local mode (build/bench/sync_server:
     one long-lived process, gitpuller::sync per request, timed from here as
     nbgitpuller's in-process pull() is); plus the floor: the one upstream
     ref listing every sync must make, timed alone;
  4. a typical update: the teacher changed 5 notebooks and added 2 files, the
     student edited 3 notebooks (one of them also changed by the teacher).

The baseline is nbgitpuller itself (Debian's python3-nbgitpuller), driven
in-process the way its Jupyter server extension runs it: the module is
imported once and each sync is `GitPuller(url, dir, branch=None).pull()`,
which runs `git ls-remote --symref` to find the default branch, then `git
clone --depth 1 --branch B` for a first sync, or for an update `git fetch`,
`git diff` (new upstream files to rename), `git ls-files --deleted` (+ `git
checkout` of each), `git diff-files` (+ `git commit -am` when dirty) and
`git merge -Xours`.  Without the package, the same git commands are run by
this script.  The class burst compares with N concurrent `git clone --depth
1`, as the issue defines it.  The web server makes git clients speak
protocol v0, as libgit2 does, so request counts compare like with like (this
saves the baseline one round trip per operation).  The table is printed and
appended, dated, to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "examples"))

from githttp import GitHttpServer  # noqa: E402
import make_course_repo as course  # noqa: E402

os.environ.update({"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})
os.environ.pop("COURSEHUB_PREFIX", None)
GIT_ENV = dict(os.environ)

try:
    import logging

    from nbgitpuller.pull import GitPuller  # Debian: python3-nbgitpuller

    logging.disable(logging.CRITICAL)
    try:
        from importlib.metadata import version as _version

        BASELINE_VERSION = _version("nbgitpuller")
    except Exception:
        BASELINE_VERSION = "?"
except ImportError:  # pragma: no cover - depends on the machine
    GitPuller = None
    BASELINE_VERSION = ""
IDENTITY = ["-c", "user.email=nbgitpuller@nbgitpuller.link", "-c", "user.name=nbgitpuller"]


def run(cmd, cwd=None, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=GIT_ENV, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def server_cpu(srv: GitHttpServer) -> float:
    """CPU seconds used so far by lighttpd and the CGI programs it reaped."""
    fields = open(f"/proc/{srv._proc.pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def server_idle(srv: GitHttpServer, limit: float = 2.0) -> None:
    """Waits until lighttpd has reaped its CGI children (so their CPU is counted)."""
    deadline = time.monotonic() + limit
    pid = srv._proc.pid
    while time.monotonic() < deadline:
        try:
            if not open(f"/proc/{pid}/task/{pid}/children").read().strip():
                return
        except OSError:
            return
        time.sleep(0.002)


def own_and_children_cpu() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


class Cpu:
    """CPU seconds of one side: client (microsecond resolution, per run) and
    web server (clock ticks, so summed over all runs and averaged)."""

    def __init__(self):
        self.client: list[float] = []
        self.server_total = 0.0

    def per_run(self) -> float:
        n = max(len(self.client), 1)
        return median(self.client) + self.server_total / n if self.client else 0.0


def measured(fn, srv: GitHttpServer, cpu: Cpu, in_process: bool = False) -> float:
    """Runs fn; returns wall seconds and adds its CPU to `cpu`.  The client is
    the child processes, plus this process itself when `in_process`
    (nbgitpuller's Python)."""
    server_idle(srv)
    s0 = server_cpu(srv)
    c0 = own_and_children_cpu() if in_process else children_cpu()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    cpu.client.append((own_and_children_cpu() if in_process else children_cpu()) - c0)
    server_idle(srv)
    cpu.server_total += server_cpu(srv) - s0
    return wall


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# -- the baseline: nbgitpuller ----------------------------------------------

def baseline_sync(url: str, dest: Path) -> None:
    """One nbgitpuller sync of the default branch into dest."""
    if GitPuller is not None:
        for _ in GitPuller(url, str(dest), branch=None).pull():
            pass
        return
    out = run(["git", "ls-remote", "--symref", "--", url, "HEAD"]).stdout
    branch = next(l.split()[1] for l in out.splitlines() if l.startswith("ref:")).split("/", 2)[2]
    if not dest.exists():
        run(["git", "clone", "--depth", "1", "--branch", branch, "--", url, dest])
    else:
        commands_update(dest, branch)


def commands_update(repo: Path, branch: str) -> None:
    run(["git", "fetch"], cwd=repo)
    added = run(["git", "diff", "--name-only", "--diff-filter=A", f"{branch}..origin/{branch}"], cwd=repo).stdout
    stamp = datetime.datetime.now().strftime("__%Y%m%d%H%M%S")
    for name in filter(None, added.splitlines()):
        p = repo / name
        if p.exists():
            p.rename(p.with_name(p.stem + stamp + p.suffix))
    deleted = run(["git", "ls-files", "--deleted", "-z"], cwd=repo).stdout
    for name in filter(None, deleted.split("\0")):
        run(["git", "checkout", f"origin/{branch}", "--", name], cwd=repo)
    run(["git", "reset", "--mixed"], cwd=repo)
    if run(["git", "diff-files", "--quiet"], cwd=repo, check=False).returncode != 0:
        run(["git", *IDENTITY, "commit", "-am", "Automatic commit by nbgitpuller", "--allow-empty"], cwd=repo)
    run(["git", *IDENTITY, "merge", "-Xours", f"origin/{branch}"], cwd=repo)


# -- coursehub --------------------------------------------------------------

class Coursehub:
    def __init__(self, binary: Path):
        self.binary = binary

    def pull(self, url: str, dest: Path, prefix: Path | None) -> None:
        cmd = [self.binary, "pull", url, dest]
        if prefix:
            cmd += ["--prefix", prefix]
        run(cmd)

    def argv(self, url: str, dest: Path, prefix: Path | None) -> list[str]:
        cmd = [str(self.binary), "pull", url, str(dest)]
        if prefix:
            cmd += ["--prefix", str(prefix)]
        return cmd


def burst(argvs: list[list[str]]) -> float:
    """Starts every command at once; wall time until the last one exits."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(a, env=GIT_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for a in argvs]
    failures = []
    for p, a in zip(procs, argvs):
        _, err = p.communicate()
        if p.returncode != 0:
            failures.append(f"{' '.join(a)}: {err.decode(errors='replace')}")
    elapsed = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(argvs)} failed; first: {failures[0]}")
    return elapsed


class InProcess:
    """The engine in a long-lived process (bench/sync/sync_server.cpp), the
    way the hub's local mode runs it: one request per line on a pipe."""

    def __init__(self, binary: Path, prefix: Path):
        self.proc = subprocess.Popen([str(binary), str(prefix)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=GIT_ENV)

    def pull(self, url: str, dest: Path) -> None:
        self.proc.stdin.write(f"{url}\t{dest}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer.startswith("ok "):
            raise RuntimeError(f"in-process sync of {dest}: {answer or 'no answer'}")

    def cpu(self) -> float:
        """CPU seconds used so far by the process (schedstat: nanoseconds,
        where /proc/PID/stat counts 10 ms ticks)."""
        tasks = Path(f"/proc/{self.proc.pid}/task")
        return sum(int((t / "schedstat").read_text().split()[0]) for t in tasks.iterdir()) / 1e9

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def list_refs(url: str) -> None:
    """One upstream ref listing, as every sync makes it (a new connection)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("GET", f"{u.path}/info/refs?service=git-upload-pack")
    body = conn.getresponse().read()
    conn.close()
    if b"refs/heads/" not in body:
        raise RuntimeError("the ref listing holds no branch")


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt(seconds: float) -> str:
    if seconds < 0.1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out).resolve()
        self.ch = Coursehub(Path(args.bin).resolve())
        self.sync_server = Path(args.bin).resolve().parent / "bench" / "sync_server"
        self.rows: list[tuple] = []
        self.notes: list[str] = []

    def fresh(self, name: str) -> Path:
        p = self.out / "runs" / name
        if p.exists():
            shutil.rmtree(p)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def prepare_course(self) -> Path:
        src = self.out / f"course-seed{self.args.seed}"
        if not (src / ".git").exists():
            if src.exists():
                shutil.rmtree(src)
            print(f"generating the course repository in {src} ...", flush=True)
            course.generate(src, seed=self.args.seed)
        files = [p for p in src.rglob("*") if p.is_file() and ".git" not in p.parts]
        size = sum(p.stat().st_size for p in files)
        commits = run(["git", "rev-list", "--count", "HEAD"], cwd=src).stdout.strip()
        self.describe = f"{len(files)} files, {size / 1e6:.1f} MB work tree, {commits} commits"
        return src

    def counts(self, srv: GitHttpServer) -> str:
        return f"{srv.count('fetch', 'course')} fetch / {srv.count('refs', 'course')} refs"

    # 1 ------------------------------------------------------------------
    def first_sync(self, srv: GitHttpServer, url: str) -> None:
        reps = self.args.reps
        base, cold, warm = [], [], []
        cpu = {"base": Cpu(), "cold": Cpu(), "warm": Cpu()}
        warm_prefix = self.fresh("first-warm-prefix")
        self.ch.pull(url, self.fresh("first-warmup"), warm_prefix)
        counts = {}
        for i in range(reps):
            d = self.fresh(f"first-base-{i}")
            srv.reset_log()
            base.append(measured(lambda: baseline_sync(url, d), srv, cpu["base"], in_process=True))
            counts["base"] = self.counts(srv)
            d = self.fresh(f"first-cold-{i}")
            p = self.fresh(f"first-cold-prefix-{i}")
            srv.reset_log()
            cold.append(measured(lambda: self.ch.pull(url, d, p), srv, cpu["cold"]))
            counts["cold"] = self.counts(srv)
            d = self.fresh(f"first-warm-{i}")
            srv.reset_log()
            warm.append(measured(lambda: self.ch.pull(url, d, warm_prefix), srv, cpu["warm"]))
            counts["warm"] = self.counts(srv)
            print(f"  first sync rep {i + 1}/{reps}: baseline {base[-1]:.3f}  cold {cold[-1]:.3f}  warm {warm[-1]:.3f}",
                  flush=True)
        self.rows.append(("1. first sync, cold cache (first student of all)", median(cold), median(base),
                          cpu["cold"].per_run(), cpu["base"].per_run(), counts["cold"], counts["base"], "-"))
        self.rows.append(("1. first sync, warm cache (any later student)", median(warm), median(base),
                          cpu["warm"].per_run(), cpu["base"].per_run(), counts["warm"], counts["base"], "-"))

    # 2 ------------------------------------------------------------------
    def class_burst(self, srv: GitHttpServer, url: str) -> None:
        n, reps = self.args.burst, self.args.burst_reps
        ours, base, cpu_ours, cpu_base = [], [], [], []
        c_ours = c_base = ""
        for i in range(reps):
            for which in (("ours", "base") if i % 2 == 0 else ("base", "ours")):
                root = self.fresh(f"burst-{which}-{i}")
                root.mkdir()
                srv.reset_log()
                server_idle(srv)
                cpu0 = own_and_children_cpu() + server_cpu(srv)
                if which == "ours":
                    prefix = root / "prefix"
                    t = burst([self.ch.argv(url, root / f"s{k}/course", prefix) for k in range(n)])
                    ours.append(t)
                    server_idle(srv)
                    cpu_ours.append(own_and_children_cpu() + server_cpu(srv) - cpu0)
                    c_ours = self.counts(srv)
                else:
                    t = burst([["git", "clone", "-q", "--depth", "1", "--branch", "main", url, str(root / f"s{k}/course")]
                               for k in range(n)])
                    base.append(t)
                    server_idle(srv)
                    cpu_base.append(own_and_children_cpu() + server_cpu(srv) - cpu0)
                    c_base = self.counts(srv)
                # Folders are deleted only at the end: ext4 avoids reusing
                # inodes freed in the last minutes, and searching past
                # thousands of them would bill later runs for this one.
            print(f"  burst rep {i + 1}/{reps}: baseline {base[-1]:.2f} s ({cpu_base[-1]:.1f} CPU s)  "
                  f"coursehub {ours[-1]:.2f} s ({cpu_ours[-1]:.1f} CPU s)  ({c_base} vs {c_ours})", flush=True)
        self.rows.append((f"2. class burst: {n} students at once, cold cache (time to the last)", median(ours), median(base),
                          median(cpu_ours), median(cpu_base), c_ours, c_base, ">= 5x, 1 fetch"))

    # 3 ------------------------------------------------------------------
    def resync(self, srv: GitHttpServer, url: str) -> None:
        reps = max(self.args.reps, 11)
        b = self.fresh("resync-base")
        baseline_sync(url, b)
        o = self.fresh("resync-ours")
        p = self.fresh("resync-prefix")
        self.ch.pull(url, o, p)
        i_dir, i_prefix = self.fresh("resync-inproc"), self.fresh("resync-inproc-prefix")
        inproc = InProcess(self.sync_server, i_prefix)
        inproc.pull(url, i_dir)
        ours, base, inp, floor = [], [], [], []
        cpu_ours, cpu_base, cpu_inp = Cpu(), Cpu(), Cpu()
        c_inp = ""
        for i in range(reps):
            srv.reset_log()
            base.append(measured(lambda: baseline_sync(url, b), srv, cpu_base, in_process=True))
            c_base = self.counts(srv)
            srv.reset_log()
            ours.append(measured(lambda: self.ch.pull(url, o, p), srv, cpu_ours))
            c_ours = self.counts(srv)
            srv.reset_log()
            c0 = inproc.cpu()
            inp.append(measured(lambda: inproc.pull(url, i_dir), srv, cpu_inp))
            cpu_inp.client[-1] = inproc.cpu() - c0  # the long-lived process, not an exited child
            c_inp = self.counts(srv)
            server_idle(srv)
            floor.append(timed(lambda: list_refs(url)))
        inproc.close()
        print(f"  re-sync: baseline {median(base):.3f} s (client CPU {median(cpu_base.client) * 1000:.1f} ms, server "
              f"{cpu_base.server_total / reps * 1000:.1f} ms)  coursehub {median(ours):.3f} s (client CPU "
              f"{median(cpu_ours.client) * 1000:.1f} ms, server {cpu_ours.server_total / reps * 1000:.1f} ms)  "
              f"in-process {median(inp) * 1000:.1f} ms (CPU {median(cpu_inp.client) * 1000:.1f} ms)  "
              f"ref listing alone {median(floor) * 1000:.1f} ms", flush=True)
        self.rows.append(("3. re-sync, nothing new upstream: `coursehub pull` (a process per sync)", median(ours),
                          median(base), cpu_ours.per_run(), cpu_base.per_run(), c_ours, c_base, "<= 1/10"))
        self.rows.append(("3b. re-sync, nothing new upstream: the engine in-process, as the hub's local mode runs it",
                          median(inp), median(base), cpu_inp.per_run(), cpu_base.per_run(), c_inp, c_base, "<= 1/10"))
        self.notes.append(
            f"Re-sync floor: the one upstream ref listing every sync makes (GET info/refs, a new connection, timed "
            f"alone from this Python process) took {median(floor) * 1000:.1f} ms, {median(floor) / median(base) * 100:.0f}% "
            f"of the baseline's re-sync; a sync that did nothing else would be {median(base) / median(floor):.1f}x "
            f"faster than the baseline. `coursehub pull` adds a process start (dynamic loading of libgit2, OpenSSL "
            f"and the hub's libraries) that the in-process row does not; the hub's system mode runs such a process "
            f"(a worker with the student's uid), its local mode the in-process path.")

    # 4 ------------------------------------------------------------------
    def typical_update(self, srv: GitHttpServer, url: str, src: Path) -> None:
        reps = self.args.reps
        bare = srv.repo_path("course")
        base_commit = run(["git", "rev-parse", "HEAD"], cwd=src).stdout.strip()
        teacher = self.fresh("update-teacher")
        run(["git", "clone", "-q", src, teacher])
        before = {p: p.read_bytes() for p in teacher.glob("lectures/*/*.ipynb")}
        update_commit = course.teacher_update(teacher, seed=4242)
        changed = sorted(str(p.relative_to(teacher)) for p, data in before.items() if p.read_bytes() != data)
        added = run(["git", "diff", "--name-only", "--diff-filter=A", f"{base_commit}..{update_commit}"], cwd=teacher).stdout.split()
        assert len(changed) == 5 and len(added) == 2, (changed, added)
        rng = random.Random(99)
        untouched = sorted(str(p.relative_to(teacher)) for p in before if str(p.relative_to(teacher)) not in changed)
        student_edits = [changed[0]] + rng.sample(untouched, 2)

        def upstream_at(commit: str) -> None:
            run(["git", "push", "-q", "--force", str(bare), f"{commit}:refs/heads/main"], cwd=teacher)

        upstream_at(base_commit)
        # A mirror at the base commit, as the class left it last week.  Each
        # repetition starts from a copy of it; the folders themselves are
        # made by real syncs (a copied folder would have stale stat data and
        # make both sides re-hash every file).
        template_prefix = self.fresh("update-prefix")
        self.ch.pull(url, self.fresh("update-warmup"), template_prefix)

        ours, base, cpu_ours, cpu_base = [], [], Cpu(), Cpu()
        c_ours = c_base = ""
        for i in range(reps):
            upstream_at(base_commit)
            work = self.fresh(f"update-{i}")
            work.mkdir()
            run(["cp", "-a", template_prefix, work / "prefix"])
            self.ch.pull(url, work / "ours", work / "prefix")
            baseline_sync(url, work / "base")
            for d in (work / "ours", work / "base"):
                for k, rel in enumerate(student_edits):
                    course.student_edit(random.Random(k), d / rel)
            upstream_at(update_commit)
            steps = [("ours", lambda: self.ch.pull(url, work / "ours", work / "prefix")),
                     ("base", lambda: baseline_sync(url, work / "base"))]
            if i % 2:
                steps.reverse()
            for which, fn in steps:
                srv.reset_log()
                if which == "ours":
                    ours.append(measured(fn, srv, cpu_ours))
                    c_ours = self.counts(srv)
                else:
                    base.append(measured(fn, srv, cpu_base, in_process=True))
                    c_base = self.counts(srv)
            # Both must have done the job: the student's edit and the teacher's new files.
            for d in (work / "ours", work / "base"):
                assert "My notes:" in (d / student_edits[1]).read_text(), d
                assert all((d / a).exists() for a in added), d
            print(f"  update rep {i + 1}/{reps}: baseline {base[-1]:.3f} s (client CPU {cpu_base.client[-1] * 1000:.0f} ms)"
                  f"  coursehub {ours[-1]:.3f} s (client CPU {cpu_ours.client[-1] * 1000:.0f} ms)", flush=True)
        print(f"  update server CPU per run: baseline {cpu_base.server_total / reps * 1000:.0f} ms, coursehub "
              f"{cpu_ours.server_total / reps * 1000:.0f} ms", flush=True)
        upstream_at(base_commit)
        self.rows.append(("4. typical update (teacher: 5 notebooks + 2 files; student: 3 notebooks, 1 overlapping)",
                          median(ours), median(base), cpu_ours.per_run(), cpu_base.per_run(), c_ours, c_base, "<= 1/3"))

    # -------------------------------------------------------------------
    def table(self) -> str:
        load = os.getloadavg()
        when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        lines = [
            f"## {when} — sync engine (`bench/sync/run.py`)",
            "",
            f"Course repo: {self.describe} (examples/make_course_repo.py, seed {self.args.seed}); smart HTTP on "
            f"127.0.0.1 (lighttpd + git http-backend); {os.cpu_count()} CPUs, load average at the end "
            f"{load[0]:.1f}; {self.args.reps} repetitions ({self.args.burst_reps} for the burst). "
            f"Baseline: {'nbgitpuller ' + BASELINE_VERSION + ' (GitPuller in-process)' if GitPuller else 'nbgitpuller-equivalent git commands'}"
            "; burst baseline: concurrent `git clone --depth 1`. Ratio = baseline time / coursehub time. "
            "Wall and CPU are medians; CPU counts the client processes (and, for nbgitpuller, its Python), and the "
            "web server with its git programs: the machine is shared with other jobs, which inflate wall times "
            "but not CPU times. Requests: pack requests (POST upload-pack) / ref listings (GET info/refs).",
            "",
            "| measurement | coursehub wall | baseline wall | ratio | coursehub CPU | baseline CPU | CPU ratio | upstream requests coursehub | upstream requests baseline | target |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, ours, base, cpu_o, cpu_b, c_ours, c_base, target in self.rows:
            lines.append(f"| {name} | {fmt(ours)} | {fmt(base)} | {base / ours:.1f}x | {fmt(cpu_o)} | {fmt(cpu_b)} | "
                         f"{cpu_b / max(cpu_o, 1e-9):.1f}x | {c_ours} | {c_base} | {target} |")
        lines += [""] + [f"- {n}" for n in self.notes] + ([""] if self.notes else [])
        return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="coursehub pull vs nbgitpuller's git commands")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--burst", type=int, default=60, help="students in the class burst")
    ap.add_argument("--burst-reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", default=str(ROOT / "build" / "coursehub"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "sync"))
    ap.add_argument("--no-build", action="store_true", help="do not run scripts/build.sh first")
    ap.add_argument("--no-append", action="store_true", help="print the table without appending it to bench/RESULTS.md")
    ap.add_argument("--only", default="1234", help="which measurements to run, e.g. 13")
    args = ap.parse_args(argv)

    if not args.no_build:
        subprocess.run([str(ROOT / "scripts" / "build.sh")], check=True, stdout=subprocess.DEVNULL)
    if "3" in args.only:
        subprocess.run(["cmake", "--build", str(Path(args.bin).resolve().parent), "--target", "sync_server"],
                       check=True, stdout=subprocess.DEVNULL)
    bench = Bench(args)
    bench.out.mkdir(parents=True, exist_ok=True)
    src = bench.prepare_course()
    with GitHttpServer(bench.out / "server", git_protocol="0") as srv:
        url = srv.add_repo("course", src)
        print(f"serving {url} ({bench.describe})", flush=True)
        if "1" in args.only:
            bench.first_sync(srv, url)
        if "2" in args.only:
            bench.class_burst(srv, url)
        if "3" in args.only:
            bench.resync(srv, url)
        if "4" in args.only:
            bench.typical_update(srv, url, src)
    shutil.rmtree(bench.out / "runs", ignore_errors=True)
    table = bench.table()
    print()
    print(table)
    if not args.no_append:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write("\n" + table)
        print("appended to bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
