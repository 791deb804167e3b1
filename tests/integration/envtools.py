"""Helpers for the shared-environment tests: a real package index, real venvs,
and the real coursehub binary."""
import json
import os
import pathlib
import subprocess

import pytest

import pkgindex
from conftest import BIN

PY = "/usr/bin/python3"


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("packages")
    pkgindex.build_packages(root / "files")
    pkgindex.write_simple_index(root / "files", root / "index")
    return root


@pytest.fixture(scope="session")
def index(package_dir):
    idx = pkgindex.PackageIndex(package_dir / "index")
    yield idx
    idx.stop()


def clean_env():
    env = dict(os.environ)
    # The machine's own pip settings must not leak into what pip sees.
    for k in list(env):
        if k.startswith("PIP_") or k.startswith("PYTHON"):
            del env[k]
    env["PYTHONNOUSERSITE"] = "1"
    return env


class Env:
    """A prefix P with P/user made by `coursehub env init`."""

    def __init__(self, prefix, index_url):
        self.prefix = pathlib.Path(prefix)
        self.index_url = index_url
        self.user = self.prefix / "user"
        self.site = self.user / "lib" / "python3.11" / "site-packages"

    def run(self, *args, check=True, index=True, timeout=300):
        cmd = [str(BIN), "env", *args, "--prefix", str(self.prefix)]
        if index and self.index_url:
            cmd += ["--index-url", self.index_url]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=clean_env())
        if check and r.returncode != 0:
            raise AssertionError(f"{cmd} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def json(self, *args):
        return json.loads(self.run(*args, "--json").stdout)

    def listed(self):
        return [(d["name"], d["version"]) for d in self.json("list")]

    def own(self):
        return {d["name"]: d["version"] for d in self.json("list") if d["location"] == "own"}

    def pip(self, *args, check=True):
        r = subprocess.run([str(self.user / "bin" / "python"), "-m", "pip", *args,
                            "--disable-pip-version-check"],
                           capture_output=True, text=True, timeout=300, env=clean_env(), cwd="/")
        if check and r.returncode != 0:
            raise AssertionError(f"pip {args} failed:\n{r.stdout}\n{r.stderr}")
        return r

    def pip_list(self):
        return [(d["name"], d["version"]) for d in json.loads(self.pip("list", "--format=json").stdout)]

    def pip_check(self):
        r = self.pip("check", check=False)
        return r.returncode, r.stdout

    def history(self):
        return self.json("history")

    def python(self, code):
        return subprocess.run([str(self.user / "bin" / "python"), "-c", code], capture_output=True,
                              text=True, timeout=120, env=clean_env(), cwd="/")


def make_env(tmp_path, index_url, system_site=False, name="P"):
    prefix = tmp_path / name
    prefix.mkdir()
    env = Env(prefix, index_url)
    args = ["init"] + (["--system-site-packages"] if system_site else [])
    env.run(*args, index=False)
    return env


def tree_state(path):
    """Every file under path with its size and mode, to show nothing changed."""
    out = {}
    for p in sorted(pathlib.Path(path).rglob("*")):
        if "__pycache__" in p.parts:
            continue
        st = p.lstat()
        out[str(p.relative_to(path))] = (st.st_mode, st.st_size if p.is_file() else 0)
    return out
