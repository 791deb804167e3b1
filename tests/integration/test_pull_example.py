"""The example course generator is deterministic, and its repository syncs
cleanly (a small scale keeps this quick; the benchmarks use full size)."""

import subprocess
import sys

from pull_support import SOURCE, git, pull, status

GEN = SOURCE / "examples" / "make_course_repo.py"


def generate(out, seed):
    r = subprocess.run([sys.executable, str(GEN), str(out), "--seed", str(seed), "--scale", "0.02", "--commits", "6"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return git(out, "rev-parse", "HEAD").strip()


def test_same_seed_same_repository_and_it_syncs(tmp_path):
    a = generate(tmp_path / "a", 3)
    assert generate(tmp_path / "b", 3) == a
    assert generate(tmp_path / "c", 4) != a
    files = [p for p in (tmp_path / "a").rglob("*") if p.is_file() and ".git" not in p.parts]
    assert 140 <= len(files) <= 160
    assert len(list((tmp_path / "a").glob("lectures/*/*.ipynb"))) == 60
    assert git(tmp_path / "a", "rev-list", "--count", "HEAD").strip() == "6"
    r = pull(tmp_path / "a", tmp_path / "student", "--prefix", tmp_path / "prefix")
    assert r.code == 0, r.err
    assert status(tmp_path / "student") == ""
