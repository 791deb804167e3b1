"""git-pull in system-user mode (spawner.mode = system), for real: the hub runs
as root, each student is the unix account jupyter-<name>, and the sync into
their home is written by a worker running as that account."""

import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile

import pytest

from githttp import GitHttpServer
from gitpull_support import hub_config, pulls, stop_servers, student, sync
from hubproc import Hub
from pull_support import Teacher

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="system mode needs root")

NAME = "zzgptest-sys"
ACCOUNT = "jupyter-" + NAME


def remove_account():
    subprocess.run(["userdel", "--remove", ACCOUNT], capture_output=True)


@pytest.fixture
def world():
    remove_account()
    # Outside pytest's private (0700) temp folder: the workers, running as
    # the student, pass through the prefix to the mirrors (like /opt/tljh).
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="coursehub-gitpull-sys-"))
    os.chmod(tmp_path, 0o755)
    teacher = Teacher(tmp_path)
    teacher.write("intro.ipynb", "{}\n")
    teacher.write("data/a.csv", "1\n")
    teacher.commit("first")
    try:
        with GitHttpServer(tmp_path / "srv") as srv:
            url = srv.add_repo("course", teacher.upstream)
            priv = srv.add_repo("secret", teacher.upstream, private=True)
            with Hub(tmp_path / "hub", config=hub_config(srv.base_url, {"spawner": {"mode": "system"}})) as hub:
                try:
                    yield {"hub": hub, "srv": srv, "url": url, "priv": priv, "teacher": teacher, "tmp": tmp_path}
                finally:
                    stop_servers(hub)
    finally:
        remove_account()
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_worker_writes_as_the_student_and_never_follows_a_symlink_out(world):
    hub, url, tmp_path = world["hub"], world["url"], world["tmp"]
    s = student(hub, NAME)
    last = sync(hub, s, NAME, repo=url, targetpath="course")[-1]
    assert last["phase"] == "finished", (last, hub.log()[-3000:])
    pw = pwd.getpwnam(ACCOUNT)
    folder = os.path.join(pw.pw_dir, "course")
    for dirpath, dirnames, filenames in os.walk(folder):
        for n in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, n))
            assert st.st_uid == pw.pw_uid, os.path.join(dirpath, n)
    assert pulls(hub)[-1]["outcome"] == "cloned"

    # A symlink the student planted pointing at a root-owned folder: refused.
    victim = tmp_path / "victim"
    victim.mkdir()
    os.symlink(victim, os.path.join(pw.pw_dir, "link"))
    last = sync(hub, s, NAME, repo=url, targetpath="link/course")[-1]
    assert last["phase"] == "error" and last["error"]["code"] == "target_invalid"
    assert list(victim.iterdir()) == []

    # A symlink inside the clone to a root-only file: a later sync writes as
    # the student, so it cannot overwrite what the student cannot.
    protected = tmp_path / "protected.txt"
    protected.write_text("root's\n")
    os.chmod(protected, 0o644)
    target = os.path.join(folder, "data", "a.csv")
    os.remove(target)
    os.symlink(protected, target)
    world["teacher"].write("data/a.csv", "2\n")
    world["teacher"].commit("second")
    subprocess.run(["git", "-C", str(world["teacher"].work), "push", "-q", "--force",
                    str(world["srv"].repo_path("course")), "HEAD"], check=True)
    sync(hub, s, NAME, repo=url, targetpath="course")
    assert protected.read_text() == "root's\n"

    # backup=1: the worker moves the student's clone aside (the engine's
    # backup, as in local mode) and the page is told where it went.
    with open(os.path.join(folder, "mine.txt"), "w") as f:
        f.write("my notes\n")
    last = sync(hub, s, NAME, repo=url, targetpath="course", backup="1")[-1]
    assert last["phase"] == "finished", (last, hub.log()[-3000:])
    assert last["report"]["outcome"] == "reset_with_backup"
    assert last["backup"].startswith("course_backup_")
    backup = os.path.join(pw.pw_dir, last["backup"])
    assert open(os.path.join(backup, "mine.txt")).read() == "my notes\n"
    assert os.lstat(backup).st_uid == pw.pw_uid
    assert not os.path.exists(os.path.join(folder, "mine.txt"))
    assert open(os.path.join(folder, "data", "a.csv")).read() == "2\n"
    assert pulls(hub)[-1]["backup"] == last["backup"]


def test_private_repo_in_system_mode_keeps_the_secret_from_the_student(world):
    hub, srv, priv = world["hub"], world["srv"], world["priv"]
    hub.cli("cred", "add", srv.base_url + "/private/", "--username", srv.username, "--token-stdin",
            input=srv.password + "\n")
    s = student(hub, NAME)
    last = sync(hub, s, NAME, repo=priv, targetpath="secret")[-1]
    assert last["phase"] == "finished", (last, hub.log()[-3000:])
    pw = pwd.getpwnam(ACCOUNT)
    config = open(os.path.join(pw.pw_dir, "secret", ".git", "config")).read()
    assert srv.password not in config
    # The student cannot read the hub's secrets on their way to the mirrors.
    for f in ["credentials.json", "credentials.key", "hub.sqlite", "cookie_secret"]:
        p = hub.prefix / "state" / f
        if p.exists():
            r = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
                                "cat", str(p)], capture_output=True)
            assert r.returncode != 0, f
