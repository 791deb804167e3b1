"""Shared helpers for the `coursehub pull` / `coursehub cred` CLI tests.

Teacher repositories are made with the git CLI; the binary under test is
$COURSEHUB_BIN (set by CTest), falling back to build/coursehub.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
from pathlib import Path

SOURCE = Path(os.environ.get("COURSEHUB_SOURCE", Path(__file__).resolve().parents[2]))
BIN = os.environ.get("COURSEHUB_BIN", str(SOURCE / "build" / "coursehub"))

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Teacher",
    "GIT_AUTHOR_EMAIL": "teacher@example.edu",
    "GIT_COMMITTER_NAME": "Teacher",
    "GIT_COMMITTER_EMAIL": "teacher@example.edu",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(cwd, *args, check=True) -> str:
    r = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {r.stdout}{r.stderr}")
    return r.stdout


class Teacher:
    """A work tree that pushes to a bare upstream (or to a served repo)."""

    def __init__(self, root: Path, branch: str = "main"):
        self.work = root / "teacher"
        self.upstream = root / "upstream.git"
        git(root, "init", "-q", "--bare", "-b", branch, str(self.upstream))
        git(root, "init", "-q", "-b", branch, str(self.work))
        git(self.work, "remote", "add", "origin", str(self.upstream))

    def write(self, rel: str, content: str) -> None:
        p = self.work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)

    def commit(self, message: str = "teacher's change") -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "--allow-empty", "-m", message)
        git(self.work, "push", "-q", "--force", "origin", "HEAD")
        return git(self.work, "rev-parse", "HEAD").strip()

    def push_to(self, bare: Path) -> None:
        git(self.work, "push", "-q", "--force", str(bare), "HEAD")


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    @property
    def report(self) -> dict:
        final = self.events[-1]
        assert final["phase"] == "finished", final
        return final["report"]

    @property
    def error_line(self) -> str:
        lines = [l for l in self.err.splitlines() if l.strip()]
        return lines[-1] if lines else ""


def coursehub(*args, input: str | None = None, env: dict | None = None, timeout: float = 300,
              file_size_limit: int | None = None) -> Result:
    """Runs the binary.  `file_size_limit` (bytes) makes writes past it fail
    with EFBIG, as a full disk or a used-up quota makes them fail."""
    e = {k: v for k, v in os.environ.items() if k != "COURSEHUB_PREFIX"}
    if env:
        e.update(env)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return Result(subprocess.run([BIN, *map(str, args)], input=input, capture_output=True, text=True, env=e,
                                 timeout=timeout, preexec_fn=limit if file_size_limit else None))


def pull(*args, **kw) -> Result:
    return coursehub("pull", *args, **kw)


def lines(a: int, b: int, prefix: str = "line ") -> str:
    return "".join(f"{prefix}{i}\n" for i in range(a, b + 1))


def status(d: Path) -> str:
    return git(d, "status", "--porcelain=v1", "--untracked-files=all")


def all_bytes_under(d: Path) -> bytes:
    """Every file's content and name under d (including .git), for secret hunting."""
    out = []
    for p in d.rglob("*"):
        out.append(str(p).encode())
        if p.is_file() and not p.is_symlink():
            out.append(p.read_bytes())
    return b"\n".join(out)
