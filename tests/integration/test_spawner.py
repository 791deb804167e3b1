"""The spawner with real Jupyter servers (Debian's python3-jupyter-server,
python3-nbclassic, python3-ipykernel), driven by a stand-in for the hub
process.  Run as root here, so system mode is tested for real."""
import grp
import hashlib
import os
import pathlib
import pwd
import signal
import stat
import subprocess
import time

import pytest

from jupyter_kernel import Kernel, http
from spawner_driver import Driver

START_MS = 180000  # a loaded 2-core machine can be slow to import Jupyter
TEST_PREFIX = "zzsptest"  # system-mode accounts are jupyter-zzsptest-*


def server_url(info):
    return f"http://127.0.0.1:{info['port']}{info['url_prefix']}"


def token_header(info):
    return {"Authorization": f"token {info['token']}"}


def process_gone(pid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def proc_environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)


@pytest.fixture
def prefix(tmp_path):
    p = tmp_path / "prefix"
    p.mkdir()
    return p


@pytest.fixture
def drivers():
    started = []

    def make(prefix, *args):
        d = Driver(prefix, *args)
        started.append(d)
        return d

    yield make
    for d in started:
        d.quit()


def stop_everything(prefix, *args):
    """Stops whatever servers a test left behind (they outlive their driver)."""
    d = Driver(prefix, *args)
    for name in d("adopt")["adopted"]:
        d("stop", name)
        d("wait_stopped", name, 60000)
    d.quit()


def test_a_local_server_answers_its_token_only_and_runs_a_kernel(prefix, drivers):
    d = drivers(prefix, "--hub-api-url", "http://127.0.0.1:8000/hub/api")
    try:
        info = d.start_and_wait("alice", timeout_ms=START_MS)
        assert info["state"] == "running", info
        assert info["url_prefix"] == "/user/alice/"
        assert info["home"] == str(prefix / "home" / "alice")
        assert stat.S_IMODE(os.stat(info["home"]).st_mode) == 0o700

        status, body = http("GET", server_url(info) + "api/status", token_header(info))
        assert status == 200 and "started" in body
        status, _ = http("GET", server_url(info) + "api/status")
        assert status in (401, 403)
        status, _ = http("GET", server_url(info) + "api/status", {"Authorization": "token wrong"})
        assert status in (401, 403)

        # The token travels in the environment, never on the command line.
        pid = info["pid"]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert info["token"].encode() not in f.read()
        env = proc_environ(pid)
        assert env[b"JUPYTER_TOKEN"].decode() == info["token"]
        assert env[b"JUPYTERHUB_USER"] == b"alice"
        assert env[b"JUPYTERHUB_SERVICE_PREFIX"] == b"/user/alice/"
        # What Jupyter's single-user extensions read to talk back to the hub.
        assert env[b"JUPYTERHUB_API_TOKEN"].decode() == info["token"]
        assert env[b"JUPYTERHUB_BASE_URL"] == b"/"
        assert env[b"JUPYTERHUB_API_URL"] == b"http://127.0.0.1:8000/hub/api"
        assert env[b"JUPYTERHUB_ACTIVITY_URL"] == b"http://127.0.0.1:8000/hub/api/users/alice/activity"
        assert env[b"PATH"].split(b":")[0] == str(prefix / "user" / "bin").encode()
        assert env[b"HOME"] == info["home"].encode()
        # Its own session: a hub killed with SIGKILL does not take it along.
        assert os.getsid(pid) == pid

        k = Kernel(server_url(info), token_header(info))
        try:
            assert k.execute("6*7")["text"] == "42"
            assert k.execute("import os; print(os.getcwd())")["text"].strip() == info["home"]
        finally:
            k.close()

        # The landing page is one the server really serves.
        assert info["landing"] in ("lab", "tree")
        status, _ = http("GET", server_url(info) + info["landing"], token_header(info))
        assert status == 200

        events = d("events", "alice", 1000)["events"]
        assert events[-1]["ready"] and events[-1]["url"] == "/user/alice/"
        assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
        assert all(info["token"] not in e["message"] for e in events)

        assert d("stop", "alice")["stopping"]
        assert d("wait_stopped", "alice", 60000)["stopped"]
        assert process_gone(pid)
        after = d("info", "alice")
        assert after["state"] == "stopped"
        assert after["last_exit"]["requested"] and after["last_exit"]["reason"] == "stopped"
        assert "Jupyter Server" in after["last_exit"]["log_tail"]
        assert info["token"] not in after["last_exit"]["log_tail"]
        assert d("states", "alice")["states"] == ["starting", "running", "stopping", "stopped"]
    finally:
        d.quit()
        stop_everything(prefix)


def test_a_hub_crash_leaves_the_kernel_running_and_a_dead_server_is_noticed(prefix, drivers):
    d = drivers(prefix)
    try:
        info = d.start_and_wait("bob", timeout_ms=START_MS)
        assert info["state"] == "running", info
        k = Kernel(server_url(info), token_header(info))
        assert k.execute("x = 41")["status"] == "ok"
        k.close()

        d.kill9()
        d2 = drivers(prefix)
        report = d2("adopt")
        assert report == {"adopted": ["bob"], "forgotten": []}
        again = d2("info", "bob")
        assert again["state"] == "running" and again["adopted"]
        assert (again["pid"], again["port"], again["token"]) == (info["pid"], info["port"], info["token"])
        k = Kernel(server_url(again), token_header(again), kernel_id=k.id)
        try:
            assert k.execute("x + 1")["text"] == "42"
        finally:
            k.close()

        # The server dies behind the hub's back: noticed, log tail kept.
        os.kill(info["pid"], signal.SIGKILL)
        assert d2("wait_stopped", "bob", 30000)["stopped"]
        dead = d2("info", "bob")
        assert dead["state"] == "stopped"
        assert not dead["last_exit"]["requested"]
        assert "Jupyter Server" in dead["last_exit"]["log_tail"]
        assert d2("states", "bob")["states"][-1] == "stopped"

        # The next request starts it again, with a fresh token.
        fresh = d2.start_and_wait("bob", timeout_ms=START_MS)
        assert fresh["state"] == "running" and fresh["pid"] != info["pid"]
        assert fresh["token"] != info["token"]
        status, _ = http("GET", server_url(fresh) + "api/status", token_header(fresh))
        assert status == 200

        # A hub that finds the recorded server dead forgets it.
        d2.kill9()
        os.kill(fresh["pid"], signal.SIGKILL)
        assert process_gone(fresh["pid"])
        d3 = drivers(prefix)
        assert d3("adopt") == {"adopted": [], "forgotten": ["bob"]}
        assert d3("info", "bob")["state"] == "stopped"
    finally:
        stop_everything(prefix)


def cgroup2_memory_available():
    with open("/proc/self/mountinfo") as f:
        mounts = [l.split(" - ")[0].split()[4] for l in f if " - cgroup2 " in l]
    for m in mounts:
        try:
            with open(os.path.join(m, "cgroup.controllers")) as f:
                if "memory" in f.read().split():
                    return True
        except OSError:
            pass
    return False


def cgroup1_dir(controller):
    """The writable cgroup v1 directory of this process for `controller`, or None."""
    with open("/proc/self/mountinfo") as f:
        mounts = [l.split(" - ")[0].split()[4] for l in f
                  if " - cgroup " in l and controller in l.split(" - ")[1].split()[2].split(",")]
    if not mounts:
        return None
    with open("/proc/self/cgroup") as f:
        own = next((l.strip().split(":", 2)[2] for l in f if controller in l.split(":")[1].split(",")), "/")
    d = mounts[0] + ("" if own == "/" else own)
    return d if os.access(d, os.W_OK) else None


def test_a_memory_hog_loses_its_kernel_not_the_server(prefix, drivers):
    limit = 400 * 1024 * 1024
    d = drivers(prefix, "--memory", limit, "--cpu", "0.5")
    try:
        limits = d("limits")
        if os.geteuid() != 0:
            expected = "rlimit"
        elif cgroup2_memory_available():
            expected = "cgroup2"
        else:
            expected = "cgroup1" if cgroup1_dir("memory") else "rlimit"
        assert limits["mechanism"] == expected, limits
        info = d.start_and_wait("carol", timeout_ms=START_MS)
        assert info["state"] == "running", info
        env = proc_environ(info["pid"])
        assert env[b"MEM_LIMIT"] == str(limit).encode() and env[b"CPU_LIMIT"] == b"0.5"
        if expected == "cgroup2":
            with open(os.path.join(info["cgroup"], "memory.max")) as f:
                assert int(f.read()) == limit
        elif expected == "cgroup1":
            # The kernel enforces it: the server is in a memory cgroup with the
            # limit, and (where the cpu hierarchy is writable) a cpu quota.
            dirs = info["cgroup"].split("\n")
            with open(os.path.join(dirs[0], "memory.limit_in_bytes")) as f:
                assert int(f.read()) == limit
            with open(f"/proc/{info['pid']}/cgroup") as f:
                memory_line = next(l for l in f if "memory" in l.split(":")[1].split(","))
            assert dirs[0].endswith(memory_line.strip().split(":", 2)[2]), (dirs, memory_line)
            if cgroup1_dir("cpu"):
                assert len(dirs) == 2, dirs
                with open(os.path.join(dirs[1], "cpu.cfs_quota_us")) as f:
                    assert int(f.read()) == 50000
                assert str(info["pid"]) in open(os.path.join(dirs[1], "cgroup.procs")).read().split()
        else:
            with open(f"/proc/{info['pid']}/limits") as f:
                line = next(l for l in f if l.startswith("Max data size"))
            assert line.split()[3] == str(limit)

        k = Kernel(server_url(info), token_header(info))
        try:
            hog = k.execute("b = b'x' * (1024 * 1024 * 1024)\nlen(b)")
            # cgroups: the kernel's OOM killer takes the kernel; rlimit: Python fails the allocation.
            assert hog["error"] == ("MemoryError" if expected == "rlimit" else "KernelDied"), hog
        finally:
            k.close()
        status, _ = http("GET", server_url(info) + "api/status", token_header(info))
        assert status == 200
        # The user goes on working.
        k = Kernel(server_url(info), token_header(info))
        try:
            assert k.execute("6*7")["text"] == "42"
            if "via cgroup" in limits["cpu"]:
                # Half a CPU: a second of busy looping gets throttled by the kernel.
                cpu_dir = info["cgroup"].split("\n")[-1]
                k.execute("import time\nt = time.time()\nwhile time.time() - t < 1.0: pass")
                with open(os.path.join(cpu_dir, "cpu.stat")) as f:
                    stat = dict(l.split() for l in f)
                assert int(stat["nr_throttled"]) > 0, stat
        finally:
            k.close()
    finally:
        d.quit()
        stop_everything(prefix, "--memory", limit)


def tljh_system_username(name):
    full = "jupyter-" + name
    if len(full) < 26:
        return full
    return full[:26] + "-" + hashlib.sha256(full.encode()).hexdigest()[:5]


def delete_account(name):
    subprocess.run(["userdel", "--remove", name], capture_output=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="system mode needs root")
def test_system_mode_runs_each_user_as_their_own_locked_down_account(prefix, drivers):
    short = f"{TEST_PREFIX}-ann"
    long = f"{TEST_PREFIX}-with-a-very-long-name"
    groups_before = {g for g in ("jupyterhub-users", "jupyterhub-admins") if _group_exists(g)}
    accounts = [tljh_system_username(short), tljh_system_username(long)]
    assert accounts[1] != "jupyter-" + long and len(accounts[1]) == 32
    for a in accounts:
        delete_account(a)
    d = drivers(prefix, "--mode", "system")
    try:
        info = d.start_and_wait(short, admin=True, timeout_ms=START_MS)
        assert info["state"] == "running", info
        pw = pwd.getpwnam(accounts[0])
        assert info["unix_user"] == accounts[0] and info["uid"] == pw.pw_uid != 0
        assert info["home"] == pw.pw_dir == f"/home/{accounts[0]}"
        home = os.stat(pw.pw_dir)
        assert home.st_uid == pw.pw_uid and stat.S_IMODE(home.st_mode) & 0o007 == 0
        assert accounts[0] in grp.getgrnam("jupyterhub-users").gr_mem
        assert accounts[0] in grp.getgrnam("jupyterhub-admins").gr_mem

        with open(f"/proc/{info['pid']}/status") as f:
            status = dict(l.split(":", 1) for l in f.read().splitlines())
        assert status["Uid"].split() == [str(pw.pw_uid)] * 4
        assert status["Gid"].split() == [str(pw.pw_gid)] * 4
        assert status["NoNewPrivs"].strip() == "1"
        assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0

        # Another unix user can read neither the home nor the server's token.
        other = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                "ls", pw.pw_dir], capture_output=True, text=True)
        assert other.returncode != 0 and "Permission denied" in other.stderr
        other = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                "cat", f"/proc/{info['pid']}/environ"], capture_output=True, text=True)
        assert other.returncode != 0 and info["token"] not in other.stdout

        k = Kernel(server_url(info), token_header(info))
        try:
            # Each whole reply goes into the assertion message: a rare failure
            # under load here once showed only "None == PermissionError".
            ids = k.execute("import os; print(os.getuid(), os.geteuid())")
            assert ids["text"].split() == [str(pw.pw_uid)] * 2, ids
            back_to_root = k.execute("import os; os.setuid(0)")
            assert back_to_root["error"] == "PermissionError", back_to_root
            shadow = k.execute("open('/etc/shadow')")
            assert shadow["error"] == "PermissionError", shadow
            mine = k.execute("open('mine.txt', 'w').write('hi')")
            assert mine["status"] == "ok", mine
        finally:
            k.close()
        assert os.stat(os.path.join(pw.pw_dir, "mine.txt")).st_uid == pw.pw_uid

        # Losing admin removes the account from jupyterhub-admins at the next start.
        d("stop", short)
        assert d("wait_stopped", short, 60000)["stopped"]
        assert process_gone(info["pid"])
        again = d.start_and_wait(short, admin=False, timeout_ms=START_MS)
        assert again["state"] == "running" and again["uid"] == pw.pw_uid
        assert accounts[0] not in grp.getgrnam("jupyterhub-admins").gr_mem

        # TLJH's rule for long names.
        info2 = d.start_and_wait(long, timeout_ms=START_MS)
        assert info2["state"] == "running", info2
        assert info2["unix_user"] == accounts[1]
        assert pwd.getpwnam(accounts[1]).pw_uid == info2["uid"]

        for name in (short, long):
            d("stop", name)
        for name, pid in ((short, again["pid"]), (long, info2["pid"])):
            assert d("wait_stopped", name, 60000)["stopped"]
            assert process_gone(pid)
    finally:
        d.quit()
        stop_everything(prefix, "--mode", "system")
        for a in accounts:
            delete_account(a)
        for g in ("jupyterhub-users", "jupyterhub-admins"):
            if g not in groups_before:
                subprocess.run(["groupdel", g], capture_output=True)


def _group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False
