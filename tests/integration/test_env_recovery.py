"""Crashes, concurrency and offline rollback of the shared environment."""
import json
import os
import signal
import subprocess
import time

import pkgindex
from conftest import BIN
from envtools import clean_env, index, make_env, package_dir, tree_state  # noqa: F401


def popen_env(env, *args):
    cmd = [str(BIN), "env", *args, "--prefix", str(env.prefix), "--index-url", env.index_url]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())


def test_a_cli_killed_mid_install_is_rolled_back_by_the_next_command(tmp_path, index):
    env = make_env(tmp_path, index.url)
    env.run("install", "chbeta==1.0")
    before_list, before_tree = env.pip_list(), tree_state(env.user)

    p = popen_env(env, "install", "chbig", "chbeta==2.0")
    seen = []
    for line in p.stdout:
        seen.append(line)
        if line.startswith("Installing collected packages"):
            break
    assert any(l.startswith("Installing collected packages") for l in seen), "".join(seen)
    # Kill it while pip is writing chbig's 3000 files.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if (env.site / "chbig").is_dir() and len(os.listdir(env.site / "chbig")) > 10:
            break
        time.sleep(0.002)
    assert p.poll() is None, "the install finished before it could be interrupted"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(60)
    p.stdout.close()
    p.stderr.close()

    r = env.run("list")
    assert "recovered: transaction #" in r.stderr and "rolled back" in r.stderr
    hist = env.history()
    assert hist[0]["state"] == "interrupted" and hist[0]["restored"]
    assert [(c["name"], c["version"]) for c in hist[0]["after"]] == \
           [(c["name"], c["version"]) for c in hist[0]["before"]]
    assert env.pip_list() == before_list
    assert tree_state(env.user) == before_tree
    assert env.pip_check()[0] == 0
    assert not any(n.startswith("~") or n.startswith("chbig") for n in os.listdir(env.site))
    # and the environment works on as usual
    env.run("install", "chalpha==1.0")
    assert env.own()["chalpha"] == "1.0"


def test_two_installs_at_once_run_one_after_the_other(tmp_path, package_dir):
    idx = pkgindex.PackageIndex(package_dir / "index")
    try:
        env = make_env(tmp_path, idx.url)
        env.index_url = idx.url
        gate = idx.hold("chgamma-1.0-py3-none-any.whl")
        first = popen_env(env, "install", "chgamma")
        assert gate.reached.wait(120), "the first install never reached the index"
        status = json.loads(env.run("status", "--json", index=False).stdout)
        assert status["kind"] == "install" and status["request"] == ["chgamma"]
        second = popen_env(env, "install", "chbeta==1.0")
        waited = second.stderr.readline()
        assert waited.startswith(f"waiting: transaction #{status['id']} (install chgamma"), waited
        gate.release.set()
        out1, err1 = first.communicate(timeout=300)
        out2, err2 = second.communicate(timeout=300)
        assert first.returncode == 0, out1 + err1
        # chbeta==1.0 conflicts with chalpha 2.0 (pip warns) but installs.
        assert second.returncode == 0, out2 + err2
        hist = env.history()
        a = next(h for h in hist if h["request"] == ["chgamma"])
        b = next(h for h in hist if h["request"] == ["chbeta==1.0"])
        assert b["started"] >= a["finished"]
        assert env.own()["chbeta"] == "1.0" and env.own()["chgamma"] == "1.0"
    finally:
        idx.stop()


def test_rollback_works_with_the_index_offline(tmp_path, package_dir):
    idx = pkgindex.PackageIndex(package_dir / "index")
    env = make_env(tmp_path, idx.url)
    env.run("install", "chalpha==1.0", "chbeta==1.0")
    env.run("upgrade", "chalpha")
    env.run("install", "chgamma")
    hist = env.history()
    upgrade_id, gamma_id = hist[1]["id"], hist[0]["id"]
    assert env.own()["chalpha"] == "2.0"
    idx.stop()

    r = env.run("rollback", str(upgrade_id))
    assert "restart your kernel to use the new package" in r.stdout.lower()
    own = env.own()
    assert own["chalpha"] == "1.0" and own["chbeta"] == "1.0" and "chgamma" not in own
    assert not (env.user / "bin" / "chgamma-hello").exists()
    assert env.pip_check()[0] == 0

    env.run("rollback", str(gamma_id), "--to-after")
    assert env.own()["chgamma"] == "1.0" and env.own()["chalpha"] == "2.0"
    assert (env.user / "bin" / "chgamma-hello").exists()

    # Without a target: undo the latest change (the rollback just made).
    env.run("rollback")
    assert "chgamma" not in env.own()
    kinds = [(h["kind"], h["rollback_of"]) for h in env.history()[:3]]
    assert kinds[0][0] == "rollback" and kinds[1] == ("rollback", gamma_id) and kinds[2] == ("rollback", upgrade_id)

    # A state whose wheels are gone cannot be restored: refused, nothing changed.
    for w in os.listdir(env.prefix / "state" / "wheelhouse"):
        if w.startswith("chgamma"):
            os.remove(env.prefix / "state" / "wheelhouse" / w)
    before = env.pip_list()
    r = env.run("rollback", str(gamma_id), "--to-after", check=False)
    assert r.returncode == 1 and "missing_wheel" in r.stderr and "chgamma 1.0" in r.stderr
    assert env.pip_list() == before
