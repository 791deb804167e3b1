"""coursehub env: the shared environment, against real pip, a real index and real venvs."""
import json
import os
import stat

import pytest

from envtools import Env, index, make_env, package_dir, tree_state  # noqa: F401


def test_init_makes_a_venv_recognises_one_and_refuses_a_foreign_folder(tmp_path):
    env = make_env(tmp_path, None)
    assert (env.user / "pyvenv.cfg").exists()
    assert env.own() == {"pip": "23.0.1", "setuptools": "66.1.1"}
    again = env.run("init", index=False)
    assert "already a venv environment" in again.stdout
    # No ipykernel to see (no system site-packages): no kernel spec of its own.
    assert not (env.user / "share" / "jupyter" / "kernels").exists()

    foreign = tmp_path / "F"
    (foreign / "user").mkdir(parents=True)
    (foreign / "user" / "notes.txt").write_text("keep me\n")
    r = Env(foreign, None).run("init", check=False, index=False)
    assert r.returncode == 1
    assert "not_an_env" in r.stderr and "refusing to touch it" in r.stderr
    assert sorted(os.listdir(foreign / "user")) == ["notes.txt"]
    assert (foreign / "user" / "notes.txt").read_text() == "keep me\n"
    r = Env(foreign, None).run("list", check=False, index=False)
    assert r.returncode == 1 and "not a Python environment" in r.stderr

    conda = tmp_path / "C" / "user"
    (conda / "conda-meta").mkdir(parents=True)
    (conda / "bin").mkdir()
    (conda / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    os.symlink("/usr/bin/python3", conda / "bin" / "python")
    r = Env(tmp_path / "C", None).run("init", index=False)
    assert "already a conda environment" in r.stdout
    assert "without mamba or conda; coursehub installs into it with pip" in r.stdout
    (conda / "bin" / "mamba").write_text("#!/bin/sh\nexit 1\n")
    (conda / "bin" / "mamba").chmod(0o755)
    r = Env(tmp_path / "C", None).run("init", index=False)
    assert f"coursehub installs into it with {conda / 'bin' / 'mamba'}" in r.stdout


def test_install_with_dependencies_and_a_console_script(tmp_path, index):
    env = make_env(tmp_path, index.url)
    r = env.run("install", "chgamma")
    assert "restart your kernel to use the new package" in r.stdout.lower()
    assert env.own() == {"chalpha": "2.0", "chbeta": "2.0", "chgamma": "1.0",
                         "pip": "23.0.1", "setuptools": "66.1.1"}
    hello = env.user / "bin" / "chgamma-hello"
    assert os.access(hello, os.X_OK)
    assert env.python("import chgamma, chalpha; print(chalpha.__version__)").stdout.strip() == "2.0"
    out = os.popen(str(hello)).read()
    assert out == "hello from chgamma 1.0\n"
    assert env.listed() == env.pip_list()
    # Installed through the wheelhouse: every installed wheel is kept there.
    kept = sorted(os.listdir(env.prefix / "state" / "wheelhouse"))
    for w in ["chalpha-2.0-py3-none-any.whl", "chbeta-2.0-py3-none-any.whl", "chgamma-1.0-py3-none-any.whl"]:
        assert w in kept
    # Readable and runnable by everyone, writable by nobody but the owner.
    for p in [env.site / "chgamma" / "__init__.py", env.site / "chgamma-1.0.dist-info" / "METADATA", hello,
              env.site / "chgamma"]:
        mode = p.stat().st_mode
        assert mode & stat.S_IROTH and not mode & (stat.S_IWGRP | stat.S_IWOTH), p
    assert hello.stat().st_mode & stat.S_IXOTH


def test_upgrade_downgrade_remove_check_are_recorded_with_their_diffs(tmp_path, index):
    env = make_env(tmp_path, index.url)
    env.run("install", "chalpha==1.0", "chbeta==1.0")
    env.run("upgrade", "chalpha")
    assert env.own()["chalpha"] == "2.0" and env.own()["chbeta"] == "2.0"
    env.run("install", "chalpha==1.1")
    env.run("remove", "chalpha", "--as", "alice")
    assert "chalpha" not in env.own()
    hist = env.history()
    kinds = [(h["kind"], h["state"]) for h in hist]
    assert kinds == [("remove", "succeeded"), ("install", "succeeded"), ("upgrade", "succeeded"),
                     ("install", "succeeded"), ("init", "succeeded")]
    changes = [{(c["kind"], c["name"], c["from"], c["to"]) for c in h["changes"]} for h in hist]
    assert changes[0] == {("removed", "chalpha", "1.1", "")}
    assert changes[1] == {("downgraded", "chalpha", "2.0", "1.1")}
    assert changes[2] == {("upgraded", "chalpha", "1.0", "2.0"), ("upgraded", "chbeta", "1.0", "2.0")}
    assert changes[3] == {("added", "chalpha", "", "1.0"), ("added", "chbeta", "", "1.0")}
    assert hist[0]["requested_by"] == "alice"
    detail = env.json("history", str(hist[2]["id"]))
    assert detail["exit_code"] == 0 and detail["duration_ms"] > 0
    assert any("Successfully installed chalpha-2.0 chbeta-2.0" in line for line in detail["output"].splitlines())
    assert detail["commands"][0][1:4] == ["-m", "pip", "wheel"]
    assert detail["commands"][1][1:4] == ["-m", "pip", "install"]
    assert "--no-index" in detail["commands"][1]

    # check: broken or missing dependencies.  The index comes from the hub's
    # config file this time.
    (env.prefix / "config").mkdir()
    (env.prefix / "config" / "config.yaml").write_text(f"user_environment:\n  index_url: {index.url}\n")
    configured = Env(env.prefix, None)
    configured.run("install", "chalpha==2.0")
    assert configured.own()["chalpha"] == "2.0"
    assert configured.run("check").returncode == 0
    configured.run("remove", "chbeta")
    r = configured.run("check", check=False)
    assert r.returncode == 1
    report = json.loads(configured.run("check", "--json", check=False).stdout)
    assert not report["ok"]
    assert any("chalpha 2.0 requires chbeta" in p for p in report["problems"])


def test_list_agrees_with_pip_list_with_system_site_packages_visible(tmp_path, index):
    env = make_env(tmp_path, index.url, system_site=True)
    env.run("install", "chgamma")
    ours = env.json("list")
    assert [(d["name"], d["version"]) for d in ours] == env.pip_list()
    inherited = [d for d in ours if d["location"] == "inherited"]
    assert inherited, "Debian's packages should be visible"
    assert all(d["path"].startswith("/usr/") for d in inherited)
    assert {d["name"] for d in ours if d["location"] == "own"} == {"chalpha", "chbeta", "chgamma", "pip",
                                                                 "setuptools"}
    # Debian's Jupyter server is importable from the environment.
    assert env.python("import jupyter_server").returncode == 0
    # Kernels run the environment's own Python, not the system's spec's /usr/bin/python3.
    spec = json.loads((env.user / "share" / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][:3] == [str(env.user / "bin" / "python"), "-m", "ipykernel_launcher"]
    # What the system provides is not the environment's to remove.
    r = env.run("remove", inherited[0]["name"], check=False)
    assert r.returncode == 1 and "system's site-packages" in r.stderr


def assert_unchanged(env, before_list, before_tree, before_history):
    assert env.pip_list() == before_list
    assert tree_state(env.user) == before_tree
    assert env.pip_check()[0] == 0


@pytest.fixture(scope="module")
def chbeta_env(tmp_path_factory, index):
    """One environment with chbeta 1.0 for the tests that show nothing changes."""
    env = make_env(tmp_path_factory.mktemp("nochange"), index.url)
    env.run("install", "chbeta==1.0")
    return env


def test_failed_installs_leave_no_trace(tmp_path, chbeta_env):
    env = chbeta_env
    before_list, before_tree = env.pip_list(), tree_state(env.user)
    n = len(env.history())

    # chevil's wheel breaks during installation, after pip already replaced
    # chbeta 1.0 by 2.0: coursehub puts 1.0 back.
    r = env.run("install", "chevil", check=False)
    assert r.returncode == 1
    assert "Uninstalling chbeta-1.0" in r.stdout
    assert "exactly as it was before" in r.stdout
    assert_unchanged(env, before_list, before_tree, n)
    for where in (env.prefix, env.prefix.parent):  # where the escaping file would land
        assert not (where / "chevil-escaped.txt").exists()

    # a build failure, and a name the index does not have
    for spec in ["chbroken", "chnosuchthing"]:
        r = env.run("install", spec, check=False)
        assert r.returncode == 1, spec
        assert_unchanged(env, before_list, before_tree, n)
    hist = env.history()
    assert [h["state"] for h in hist[:3]] == ["failed", "failed", "failed"]
    assert all(h["restored"] for h in hist[:3])
    assert "chnosuchthing" in hist[0]["message"]
    assert "chbroken" in hist[1]["message"] or "build" in hist[1]["message"].lower()


def test_bad_input_is_refused_before_anything_runs(tmp_path, chbeta_env):
    env = chbeta_env
    before_list, before_tree = env.pip_list(), tree_state(env.user)
    n = len(env.history())
    canary = tmp_path / "canary"
    bad_specs = [
        f"chalpha; touch {canary}",
        f"chalpha$(touch {canary})",
        f"chalpha && touch {canary}",
        "chalpha|id",
        "--index-url=http://127.0.0.1:1/simple",
        "chalpha --index-url http://127.0.0.1:1/simple",
        "chalpha @ http://127.0.0.1:1/chalpha-2.0-py3-none-any.whl",
        "./chalpha",
        "/tmp/chalpha.whl",
        "chalpha==1.0;python_version>'3' or",
        "chalpha>=",
    ]
    for spec in bad_specs:
        r = env.run("install", "--", spec, check=False)
        assert r.returncode != 0, spec
        assert "bad_spec" in r.stderr, (spec, r.stderr)
    bad_files = {
        "-e .\n": "pip options are not allowed",
        "chalpha\n--find-links http://127.0.0.1:1/\n": "pip options are not allowed",
        "--index-url http://127.0.0.1:1/simple\nchalpha\n": "pip options are not allowed",
        "-r other.txt\n": "pip options are not allowed",
        "chalpha --install-option=--prefix=/tmp\n": "only --hash",
        "chalpha==${VERSION}\n": "environment variables",
        "chalpha\nnot a requirement!\n": "line 2",
    }
    for text, why in bad_files.items():
        f = tmp_path / "req.txt"
        f.write_text(text)
        r = env.run("install", "-r", str(f), check=False)
        assert r.returncode == 1, text
        assert "bad_requirements" in r.stderr and why in r.stderr, (text, r.stderr)
    for args, code in [(["remove", "chnotinstalled"], "not_installed"), (["remove", "pip"], "bad_spec"),
                       (["remove", "a;b"], "bad_spec"), (["rollback", "999"], "not_found")]:
        r = env.run(*args, check=False)
        assert r.returncode == 1 and code in r.stderr, (args, r.stderr)
    assert not canary.exists()
    assert_unchanged(env, before_list, before_tree, n)
    assert len(env.history()) == n


def test_export_gives_a_lock_that_rebuilds_an_identical_env(tmp_path, index):
    env = make_env(tmp_path, index.url)
    env.run("install", "chgamma", "chbeta==2.0")
    lock = tmp_path / "lock.txt"
    env.run("export", "--output", str(lock))
    text = lock.read_text()
    pins = [l.split(" ")[0] for l in text.splitlines() if "==" in l]
    assert pins == ["chalpha==2.0", "chbeta==2.0", "chgamma==1.0", "pip==23.0.1", "setuptools==66.1.1"]
    assert text.count("--hash=sha256:") == 5
    fresh = make_env(tmp_path, index.url, name="Q")
    # plain pip accepts it too, in hash-checking mode, against the index's files
    r = fresh.pip("install", "--dry-run", "--index-url", index.url, "--require-hashes", "-r", str(lock))
    assert "Would install chalpha-2.0 chbeta-2.0 chgamma-1.0" in r.stdout
    fresh.run("install", "-r", str(lock))
    assert fresh.pip_list() == env.pip_list()
