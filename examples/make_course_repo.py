#!/usr/bin/python3
"""Generates a realistic course repository, deterministically from a seed.

    examples/make_course_repo.py OUT_DIR [--seed 1] [--commits 40] [--scale 1.0]

The result is a git repository (branch main) shaped like a real teaching
repo: about 150 files, 60 Jupyter notebooks of 20-200 KB with embedded PNG
plots, CSV/JSON data files up to 2 MB, a small Python package, exercises and
images -- about 30 MB of working tree -- built up over 40 commits.  The same
seed gives byte-identical files and the same commit ids (fixed author, dates
and identity), so benchmarks and demos are repeatable.

`--scale` shrinks or grows every file size (0.1 makes a ~3 MB repo for quick
tests).  Only the Python standard library and the git CLI are used.

The module can also be imported (benchmarks do): `teacher_update()` applies a
typical teacher change to a work tree (5 notebooks changed, 2 files added),
`student_edit()` edits notebooks the way a student does.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

TOPICS = [
    "Introduction", "Python basics", "Data types", "Control flow", "Functions",
    "NumPy arrays", "Pandas series", "DataFrames", "Cleaning data", "Grouping",
    "Plotting", "Statistics", "Probability", "Sampling", "Hypothesis tests",
    "Regression", "Classification", "Clustering", "Time series", "Text data",
    "Maps", "Images", "Simulation", "Optimisation", "Review",
]
WORDS = (
    "data model sample mean variance plot figure value column row index function loop "
    "array matrix vector estimate error noise signal trend season group filter merge "
    "student course week lecture exercise result table chart axis label scale random "
    "seed test train split score accuracy feature target weight bias learning rate"
).split()

ENV = {
    "GIT_AUTHOR_NAME": "Course Teacher",
    "GIT_AUTHOR_EMAIL": "teacher@example.edu",
    "GIT_COMMITTER_NAME": "Course Teacher",
    "GIT_COMMITTER_EMAIL": "teacher@example.edu",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}
BASE_TIME = 1767225600  # 2026-01-01T00:00:00Z


def sentence(rng: random.Random, n: int = 12) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def png(rng: random.Random, width: int, height: int, noise_fraction: float) -> bytes:
    """A plot-like RGB PNG: white background, a few curves, and a noisy
    heat-map band whose size sets how incompressible the image is."""
    rows = []
    band = int(height * noise_fraction)
    curves = [(rng.uniform(0.5, 3.0), rng.uniform(0, 6.28), rng.choice([(31, 119, 180), (255, 127, 14), (44, 160, 44)]))
              for _ in range(3)]
    import math

    for y in range(height):
        if y < band:
            row = bytes(rng.getrandbits(8) for _ in range(width * 3))
        else:
            row = bytearray(b"\xff" * (width * 3))
            for freq, phase, color in curves:
                # mark the pixel of each curve on this row
                for x in range(0, width, 1):
                    cy = int((height - band) / 2 * (1 + math.sin(freq * x / width * 6.28 + phase))) + band
                    if cy == y:
                        row[3 * x:3 * x + 3] = bytes(color)
            row = bytes(row)
        rows.append(b"\x00" + row)
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def source_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def notebook(rng: random.Random, title: str, target_bytes: int) -> str:
    cells = [{"cell_type": "markdown", "id": f"c{rng.getrandbits(32):08x}", "metadata": {},
              "source": source_lines(f"# {title}\n\n" + "\n".join(sentence(rng) for _ in range(4)))}]
    size = 0
    n = 0
    while size < target_bytes:
        n += 1
        cells.append({"cell_type": "markdown", "id": f"c{rng.getrandbits(32):08x}", "metadata": {},
                      "source": source_lines(f"## Part {n}\n\n" + "\n".join(sentence(rng) for _ in range(3)))})
        code = "\n".join([
            "import numpy as np",
            "import matplotlib.pyplot as plt",
            f"x = np.linspace(0, {rng.randint(2, 20)}, {rng.randint(50, 500)})",
            f"y = np.sin({rng.uniform(0.5, 3):.2f} * x) + np.random.normal(0, {rng.uniform(0.05, 0.5):.2f}, x.size)",
            "plt.plot(x, y)",
            f"plt.title('{rng.choice(WORDS)} vs {rng.choice(WORDS)}')",
            "plt.show()",
        ])
        remaining = target_bytes - size
        # Image payload sized to fill the notebook towards its target.
        width = rng.choice([240, 320, 400])
        height = rng.choice([120, 160, 200])
        raw_budget = min(remaining * 3 // 4, width * height * 3)
        noise = max(0.02, min(1.0, raw_budget / (width * height * 3)))
        image = base64.b64encode(png(rng, width, height, noise)).decode()
        cells.append({
            "cell_type": "code", "execution_count": n, "id": f"c{rng.getrandbits(32):08x}", "metadata": {},
            "outputs": [{"data": {"image/png": image, "text/plain": ["<Figure size 640x480 with 1 Axes>"]},
                         "metadata": {}, "output_type": "display_data"}],
            "source": source_lines(code),
        })
        size += len(image) + len(code) + 400
    nb = {"cells": cells,
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                       "language_info": {"name": "python", "version": "3.11"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def csv_data(rng: random.Random, target_bytes: int) -> str:
    cols = ["id", "date", "station", "temperature", "humidity", "wind", "value"]
    out = [",".join(cols)]
    size = len(out[0])
    i = 0
    while size < target_bytes:
        i += 1
        line = (f"{i},2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},S{rng.randint(1, 40):03d},"
                f"{rng.gauss(12, 8):.3f},{rng.uniform(20, 100):.2f},{rng.expovariate(0.3):.2f},{rng.random():.6f}")
        out.append(line)
        size += len(line) + 1
    return "\n".join(out) + "\n"


def python_module(rng: random.Random, name: str) -> str:
    funcs = []
    for k in range(rng.randint(3, 8)):
        funcs.append(f"def {name}_{rng.choice(WORDS)}_{k}(values):\n"
                     f"    \"\"\"{sentence(rng)}\"\"\"\n"
                     f"    return sum(v * {rng.uniform(0.1, 2):.3f} for v in values) / max(len(values), 1)\n")
    return f'"""{sentence(rng)}"""\n\n' + "\n\n".join(funcs)


class Plan:
    """Every file of the final course, in the order commits introduce them."""

    def __init__(self, rng: random.Random, scale: float):
        self.files: list[tuple[str, str, int]] = []  # (path, kind, size)
        add = self.files.append
        add(("README.md", "text", 3000))
        add(("requirements.txt", "req", 0))
        add((".gitignore", "ignore", 0))
        add(("LICENSE", "text", 1500))
        add(("syllabus.md", "text", 4000))
        week = 0
        for i in range(60):
            if i % 5 == 0:
                week += 1
            topic = TOPICS[i % len(TOPICS)].lower().replace(" ", "-")
            size = int(rng.uniform(20_000, 200_000) * scale)
            add((f"lectures/week{week:02d}/{i % 5 + 1:02d}-{topic}.ipynb", "notebook", max(size, 2000)))
        for i in range(18):
            size = int(min(2_000_000, rng.choice([200_000, 600_000, 1_200_000, 1_600_000, 2_000_000])) * scale)
            add((f"data/measurements-{i + 1:02d}.csv", "csv", max(size, 500)))
        for i in range(8):
            add((f"data/meta-{i + 1:02d}.json", "json", int(20_000 * scale)))
        for i in range(12):
            add((f"images/figure-{i + 1:02d}.png", "png", int(250_000 * scale)))
        for name in ["stats", "plots", "io", "clean", "models", "grading", "utils", "maps"]:
            add((f"src/coursetools/{name}.py", "py", 0))
        add(("src/coursetools/__init__.py", "py", 0))
        for i in range(24):
            add((f"exercises/exercise-{i + 1:02d}.md", "text", 2500))
        for i in range(13):
            add((f"solutions/solution-{i + 1:02d}.py", "py", 0))


def render(rng: random.Random, path: str, kind: str, size: int) -> bytes:
    if kind == "notebook":
        title = Path(path).stem.split("-", 1)[1].replace("-", " ").title()
        return notebook(rng, title, size).encode()
    if kind == "csv":
        return csv_data(rng, size).encode()
    if kind == "json":
        items = [{"station": f"S{i:03d}", "lat": rng.uniform(-60, 60), "lon": rng.uniform(-180, 180),
                  "note": sentence(rng)} for i in range(max(1, size // 120))]
        return (json.dumps(items, indent=1) + "\n").encode()
    if kind == "png":
        return png(rng, 200, max(10, size // 600), 1.0)
    if kind == "py":
        return python_module(rng, Path(path).stem).encode()
    if kind == "req":
        return b"numpy\npandas\nmatplotlib\nscikit-learn\n"
    if kind == "ignore":
        return b"__pycache__/\n.ipynb_checkpoints/\n*.pyc\n"
    text = f"# {Path(path).stem.replace('-', ' ').title()}\n\n"
    while len(text) < size:
        text += sentence(rng, rng.randint(8, 20)) + "\n"
    return text.encode()


def modify_notebook(rng: random.Random, path: Path, new_image: bool = False) -> None:
    """A teacher-style edit: reword one markdown cell, tweak one code cell,
    optionally re-render one figure."""
    nb = json.loads(path.read_text())
    md = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    cell = rng.choice(md)
    cell["source"] = source_lines("".join(cell["source"]) + "\n\n" + sentence(rng))
    if code:
        c = rng.choice(code)
        c["source"] = source_lines("".join(c["source"]).replace("plt.show()", f"plt.grid({rng.choice(['True', 'False'])})\nplt.show()", 1))
        if new_image and c.get("outputs"):
            c["outputs"][0]["data"]["image/png"] = base64.b64encode(png(rng, 240, 120, 0.3)).decode()
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def student_edit(rng: random.Random, path: Path) -> None:
    """A student-style edit: answers appended to the first markdown cell and
    a changed parameter in the last code cell."""
    nb = json.loads(path.read_text())
    md = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    md[0]["source"] = source_lines("".join(md[0]["source"]) + "\n\nMy notes: " + sentence(rng))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if code:
        code[-1]["source"] = source_lines("".join(code[-1]["source"]).replace("np.linspace(0,", "np.linspace(1,", 1))
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def git(work: Path, *args: str, when: int | None = None) -> str:
    env = dict(os.environ, **ENV)
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{when} +0000"
    return subprocess.run(["git", "-C", str(work), *args], check=True, env=env,
                          stdout=subprocess.PIPE, text=True).stdout


def commit_all(work: Path, message: str, when: int) -> str:
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message, when=when)
    return git(work, "rev-parse", "HEAD").strip()


def teacher_update(work: Path, seed: int, when: int | None = None, notebooks: int = 5, added: int = 2) -> str:
    """A typical weekly update, committed: `notebooks` notebooks changed, `added` files added."""
    rng = random.Random(f"update-{seed}")
    nbs = sorted(work.glob("lectures/*/*.ipynb"))
    for p in rng.sample(nbs, notebooks):
        modify_notebook(rng, p, new_image=rng.random() < 0.5)
    for i in range(added):
        p = work / "updates" / f"update-{seed}-{i + 1}.md"
        p.parent.mkdir(exist_ok=True)
        p.write_text(f"# Update {seed}.{i + 1}\n\n" + "\n".join(sentence(rng) for _ in range(20)) + "\n")
    return commit_all(work, f"Week update {seed}", when or BASE_TIME + 86400 * 60 + seed % 10_000_000)


def generate(out: Path, seed: int = 1, commits: int = 40, scale: float = 1.0) -> str:
    """Creates the repository at `out` (must not exist); returns the tip commit id."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    plan = Plan(rng, scale)
    subprocess.run(["git", "init", "-q", "-b", "main", str(out)], check=True,
                   env=dict(os.environ, **ENV))
    files = plan.files
    # The first commit brings the skeleton and first weeks; the rest arrive
    # in order, and each later commit also revises earlier notebooks.
    first = 25
    per_commit = max(1, (len(files) - first + commits - 2) // max(1, commits - 1))
    written: list[str] = []
    idx = 0
    tip = ""
    for c in range(commits):
        count = first if c == 0 else per_commit
        for path, kind, size in files[idx:idx + count]:
            p = out / path
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(render(rng, path, kind, size))
            written.append(path)
        idx += count
        if c > 0:
            earlier = [w for w in written if w.endswith(".ipynb")]
            for path in rng.sample(earlier, min(2, len(earlier))):
                modify_notebook(rng, out / path, new_image=rng.random() < 0.15)
        if c == commits - 1:
            for path, kind, size in files[idx:]:
                p = out / path
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(render(rng, path, kind, size))
            idx = len(files)
        tip = commit_all(out, f"Course material, step {c + 1}", BASE_TIME + 3600 * 24 * c)
    return tip


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--commits", type=int, default=40)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args(argv)
    tip = generate(args.out, args.seed, args.commits, args.scale)
    files = [p for p in args.out.rglob("*") if p.is_file() and ".git" not in p.parts]
    size = sum(p.stat().st_size for p in files)
    print(f"{args.out}: {len(files)} files, {size / 1e6:.1f} MB, {args.commits} commits, tip {tip[:10]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
