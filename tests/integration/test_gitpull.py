"""The student's git-pull click, against the real hub and a real smart-HTTP
git server on 127.0.0.1: links, login round trip, the event stream, the
pulls record, the sync policy through the hub, private repositories,
refusals (targetpath, urlpath, sources, XSRF), and two tabs sharing a sync."""

import fcntl
import html
import os
import re
import subprocess
import threading
import urllib.parse

import pytest

from githttp import GitHttpServer
from gitpull_support import events, hub_config, link_query, pulls, read_events, stop_servers, student, sync
from hubproc import Hub
from pull_support import Teacher, git

NOTEBOOK = '{"cells": [{"cell_type": "code", "source": ["x = 1\\n"], "metadata": {}, "outputs": [], "execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("gitpull")
    teacher = Teacher(root)
    teacher.write("intro.ipynb", NOTEBOOK)
    teacher.write("data/table.csv", "a,b\n1,2\n")
    teacher.commit("first lesson")
    with GitHttpServer(root / "srv") as srv:
        url = srv.add_repo("course", teacher.upstream)
        priv = srv.add_repo("secret", teacher.upstream, private=True)
        git(teacher.work, "remote", "set-url", "origin", str(srv.repo_path("course")))
        with Hub(root / "hub", config=hub_config(srv.base_url)) as hub:
            try:
                yield {"root": root, "srv": srv, "hub": hub, "teacher": teacher, "url": url, "priv": priv}
            finally:
                stop_servers(hub)


def home(hub, name):
    return hub.prefix / "home" / name


def test_a_link_survives_the_login_round_trip_with_every_parameter(world):
    hub, url = world["hub"], world["url"]
    query = link_query(repo=url, branch="main", urlPath="lab/tree/course/intro.ipynb", targetPath="course",
                       subPath="intro.ipynb", app="lab", depth="1")
    s = hub.browser()
    r = s.get(hub.url + "hub/user-redirect/git-pull?" + query, allow_redirects=False, timeout=60)
    assert r.status_code == 302
    login = r.headers["Location"]
    assert "/hub/login?next=" in login
    nxt = urllib.parse.parse_qs(urllib.parse.urlsplit(login).query)["next"][0]
    assert nxt == "/hub/user-redirect/git-pull?" + query

    s = hub.login("roundtrip", "Student-Pass-1", next_path=nxt)
    assert s.last_response.headers["Location"] == nxt
    r = s.get(hub.url + nxt.lstrip("/"), allow_redirects=False, timeout=60)
    assert r.status_code == 302
    assert r.headers["Location"] == "/user/roundtrip/git-pull?" + query
    page = s.get(hub.url + "user/roundtrip/git-pull?" + query, allow_redirects=False, timeout=60)
    assert page.status_code == 200
    api = html.unescape(re.search(r'data-api="([^"]+)"', page.text).group(1))
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(api).query)
    assert q["repo"] == [url] and q["branch"] == ["main"] and q["targetpath"] == ["course"]
    assert q["_xsrf"] == [s.cookies.get("_xsrf")]
    assert html.unescape(re.search(r'data-redirect="([^"]+)"', page.text).group(1)) == \
        "/user/roundtrip/lab/tree/course/intro.ipynb"


def test_legacy_forms_redirect_to_git_pull(world):
    hub = world["hub"]
    s = student(hub, "legacy")
    r = s.get(hub.url + "user/legacy/git-sync?repo=https%3A%2F%2Fexample.org%2Fa.git&branch=b", allow_redirects=False)
    assert r.headers["Location"] == "/user/legacy/git-pull?repo=https%3A%2F%2Fexample.org%2Fa.git&branch=b"
    r = s.get(hub.url + "user/legacy/interact?repo=textbook&path=ch1/intro.ipynb", allow_redirects=False)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert q == {"repo": ["https://github.com/data-8/textbook"], "branch": ["gh-pages"], "subPath": ["ch1/intro.ipynb"]}
    r = s.get(hub.url + "hub/user-redirect/interact?repo=x&account=me", allow_redirects=False)
    assert r.headers["Location"] == "/user/legacy/interact?repo=x&account=me"


def test_landing_is_computed_like_nbgitpuller(world):
    hub, url = world["hub"], world["url"]
    s = student(hub, "landing")

    def landing(**params):
        page = s.get(hub.url + "user/landing/git-pull?" + link_query(repo=url, **params), timeout=60)
        assert page.status_code == 200, page.text
        return html.unescape(re.search(r'data-redirect="([^"]+)"', page.text).group(1))

    assert landing(app="lab") == "/user/landing/lab/tree/course"
    assert landing(app="classic", subpath="intro.ipynb") == "/user/landing/notebooks/course/intro.ipynb"
    assert landing(app="classic") == "/user/landing/tree/course"
    assert landing(targetpath="week 1", app="lab") == "/user/landing/lab/tree/week%201"
    assert landing() == "/user/landing/lab/tree/course"  # default_app: jupyterlab
    assert landing(urlpath="/user/landing/lab/tree/x.ipynb") == "/user/landing/lab/tree/x.ipynb"


@pytest.mark.parametrize("urlpath", ["//evil.example", "https://evil.example/", "/user/other/lab", "lab/../../hub/admin",
                                     "/\\evil.example", "%2F%2Fevil.example"])
def test_urlpath_leaving_the_server_is_refused(world, urlpath):
    hub = world["hub"]
    s = student(hub, "urlpaths")
    page = s.get(hub.url + "user/urlpaths/git-pull?" + link_query(repo=world["url"], urlpath=urlpath),
                 allow_redirects=False, timeout=60)
    assert page.status_code == 400
    assert "evil.example\"" not in page.text and "data-redirect" not in page.text


def test_a_click_syncs_streams_progress_and_is_recorded(world):
    hub, url = world["hub"], world["url"]
    s = student(hub, "ana")
    evs = sync(hub, s, "ana", repo=url, branch="main", targetpath="course")
    last = evs[-1]
    assert last["phase"] == "finished", last
    assert last["report"]["outcome"] == "cloned"
    assert any(e["phase"] == "syncing" and e.get("output") for e in evs[:-1])
    assert (home(hub, "ana") / "course" / "intro.ipynb").read_text() == NOTEBOOK
    rows = [r for r in pulls(hub) if r["user_name"] == "ana"]
    assert len(rows) == 1
    row = rows[0]
    assert row["outcome"] == "cloned" and row["target"] == "course" and row["branch"] == "main"
    assert row["repo"] == url and row["commit_id"] == last["report"]["commit"]
    assert row["finished"] >= row["started"] and row["error_code"] is None


def test_the_student_edit_is_kept_and_the_new_files_arrive(world):
    hub, url, teacher = world["hub"], world["url"], world["teacher"]
    s = student(hub, "ben")
    assert sync(hub, s, "ben", repo=url, targetpath="course")[-1]["phase"] == "finished"
    mine = home(hub, "ben") / "course" / "data" / "table.csv"
    mine.write_text("a,b\n1,2\n3,my answer\n")
    teacher.write("data/table.csv", "a,b\n1,2\n3,teacher's\n")
    teacher.write("lesson2.ipynb", NOTEBOOK)
    teacher.commit("second lesson")
    last = sync(hub, s, "ben", repo=url, targetpath="course")[-1]
    assert last["phase"] == "finished", last
    assert mine.read_text() == "a,b\n1,2\n3,my answer\n"
    assert (home(hub, "ben") / "course" / "lesson2.ipynb").exists()
    assert "data/table.csv" in last["report"]["files_kept_local"]
    row = [r for r in pulls(hub) if r["user_name"] == "ben"][-1]
    assert "data/table.csv" in row["files_kept"]


def test_bad_targetpaths_are_refused_and_nothing_is_written_outside(world, tmp_path):
    hub, url = world["hub"], world["url"]
    s = student(hub, "eve")
    outside = tmp_path / "outside"
    outside.mkdir()
    h = home(hub, "eve")
    sync(hub, s, "eve", repo=url, targetpath="first")  # makes the home
    (h / "escape").symlink_to(outside)
    for target in ["../ana/course", "/tmp/x", "escape/course", "a/../../x", ""]:
        last = sync(hub, s, "eve", repo=url, targetpath=target)[-1] if target else None
        if last is None:
            continue
        assert last["phase"] == "error", (target, last)
        assert last["error"]["code"] == "target_invalid", (target, last)
    assert list(outside.iterdir()) == []
    assert not (h.parent / "ana" / "course" / "lesson9").exists()


def test_sources_not_allowed_are_refused_clearly(world):
    hub = world["hub"]
    s = student(hub, "sources")
    for repo in ["file:///etc", "/srv/x", "http://127.0.0.1:1/x.git", "https://127.0.0.1/x.git", "https://localhost/x",
                 "ssh://git@example.org/x.git", "https://[::1]/x"]:
        last = sync(hub, s, "sources", repo=repo, targetpath="x")[-1]
        assert last["phase"] == "error", (repo, last)
        assert last["error"]["code"] in ("source_refused",), (repo, last)
        assert "allowed_sources" in last["message"] or "supported" in last["message"] or "https" in last["message"]
    assert "git-pull: sources:" in hub.log() and "source_refused" in hub.log()


def test_the_event_api_requires_the_xsrf_token(world):
    hub = world["hub"]
    s = student(hub, "mallory")
    r = events(hub, s, "mallory", link_query(repo=world["url"], targetpath="course"), xsrf=False)
    assert r.status_code == 403
    r = events(hub, s, "somebody", link_query(repo=world["url"], targetpath="course"))
    assert r.status_code == 403
    assert not (home(hub, "mallory") / "course").exists()
    assert not [p for p in pulls(hub) if p["user_name"] == "mallory"]


def test_repo_and_branch_names_are_escaped_in_the_page(world):
    hub = world["hub"]
    s = student(hub, "xss")
    evil_repo = 'https://example.org/"><script>alert(1)</script>.git'
    evil_branch = "<img src=x onerror=alert(2)>"
    page = s.get(hub.url + "user/xss/git-pull?" + link_query(repo=evil_repo, branch=evil_branch), timeout=60)
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.text


def test_two_tabs_for_one_folder_share_one_sync(world):
    hub, url, teacher = world["hub"], world["url"], world["teacher"]
    s = student(hub, "twotabs")
    assert sync(hub, s, "twotabs", repo=url, targetpath="shared")[-1]["phase"] == "finished"
    teacher.write("lesson3.ipynb", NOTEBOOK)
    teacher.commit("third lesson")
    before = len(pulls(hub))
    lock = open(home(hub, "twotabs") / "shared" / ".git" / "coursehub-sync.lock", "a+")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        first = events(hub, s, "twotabs", link_query(repo=url, targetpath="shared"))
        # The first sync is registered (and waiting for the folder lock we hold).
        import time
        deadline = time.monotonic() + 120
        while len(pulls(hub)) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        second = events(hub, s, "twotabs", link_query(repo=url, targetpath="shared/"))
        results = {}
        threads = [threading.Thread(target=lambda k=k, r=r: results.__setitem__(k, read_events(r)))
                   for k, r in (("first", first), ("second", second))]
        for t in threads:
            t.start()
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    for t in threads:
        t.join(300)
    a, b = results["first"], results["second"]
    assert a[-1]["phase"] == "finished" and b[-1] == a[-1]
    assert [e for e in b if "progress" not in e] == [e for e in a if "progress" not in e]
    assert len(pulls(hub)) == before + 1
    assert (home(hub, "twotabs") / "shared" / "lesson3.ipynb").exists()


def test_private_repo_with_a_stored_credential_and_without(world):
    hub, srv, priv = world["hub"], world["srv"], world["priv"]
    s = student(hub, "priv")
    last = sync(hub, s, "priv", repo=priv, targetpath="secret")[-1]
    assert last["phase"] == "error" and last["error"]["code"] == "auth"
    assert "tell your instructor" in last["message"]

    prefix = srv.base_url + "/private/"
    hub.cli("cred", "add", prefix, "--username", srv.username, "--token-stdin", input=srv.password + "\n")
    evs = sync(hub, s, "priv", repo=priv, targetpath="secret")
    assert evs[-1]["phase"] == "finished", evs[-1]
    folder = home(hub, "priv") / "secret"
    assert (folder / "intro.ipynb").exists()
    page = s.get(hub.url + "user/priv/git-pull?" + link_query(repo=priv, targetpath="secret"), timeout=60).text
    secret = srv.password
    assert secret not in page
    assert secret not in str(evs)
    assert secret not in (folder / ".git" / "config").read_text()
    assert secret not in hub.log()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert secret not in ps

    # The credential is rejected now (rotated upstream): students see the broken-access message.
    hub.cli("cred", "add", prefix, "--username", srv.username, "--token-stdin", input="wrong-token-0000\n")
    world["teacher"].write("lesson4.ipynb", NOTEBOOK)
    world["teacher"].commit("fourth lesson")
    subprocess.run(["git", "-C", str(world["teacher"].work), "push", "-q", "--force", str(srv.repo_path("secret", True)), "HEAD"], check=True)
    last = sync(hub, s, "priv", repo=priv, targetpath="secret")[-1]
    assert last["phase"] == "error" and last["error"]["code"] == "auth"
    assert "access" in last["message"] and "tell your instructor" in last["message"]
    assert "wrong-token" not in str(last) and "wrong-token" not in hub.log()
    listed = hub.cli("cred", "list", "--json").stdout
    assert "last_error" in listed and "wrong-token" not in listed


def test_backup_moves_the_folder_aside_and_depth_is_checked(world):
    hub, url = world["hub"], world["url"]
    s = student(hub, "backup")
    assert sync(hub, s, "backup", repo=url, targetpath="course")[-1]["phase"] == "finished"
    (home(hub, "backup") / "course" / "mine.txt").write_text("my notes\n")
    last = sync(hub, s, "backup", repo=url, targetpath="course", backup="1", depth="1")[-1]
    assert last["phase"] == "finished" and last["report"]["outcome"] == "reset_with_backup", last
    assert last["backup"].startswith("course_backup_")
    assert (home(hub, "backup") / last["backup"] / "mine.txt").read_text() == "my notes\n"
    assert [r for r in pulls(hub) if r["user_name"] == "backup"][-1]["backup"] == last["backup"]
    last = sync(hub, s, "backup", repo=url, targetpath="course", depth="deep")[-1]
    assert last["phase"] == "error" and last["error"]["code"] == "bad_link" and "depth" in last["message"]


class _Redirector:
    """An HTTP server on 127.0.0.1 that redirects every request to `target`
    (another host:port), as a listed host could to reach an unlisted one."""

    def __init__(self, target_base):
        import http.server

        target = target_base.rstrip("/")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(302)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_redirect_to_an_unlisted_address_is_refused_at_connect_time(world, tmp_path):
    srv = world["srv"]
    redirector = _Redirector(f"http://127.0.0.1:{srv.port}")
    base = f"http://127.0.0.1:{redirector.port}/"
    url = base + "git/course.git"
    try:
        # Only the redirecting host is listed: following its redirect to the
        # git server's (unlisted, loopback) port is refused by the guard.
        with Hub(tmp_path / "hub1", config=hub_config(base)) as hub:
            s = student(hub, "redirected")
            srv.reset_log()
            last = sync(hub, s, "redirected", repo=url, targetpath="course")[-1]
            assert last["phase"] == "error" and last["error"]["code"] == "clone", last
            assert "refused to connect" in last["message"]
            assert srv.count(None, "course") == 0
            assert not (home(hub, "redirected") / "course").exists()
        # With the git server listed as well, the same redirect is followed.
        cfg = hub_config(base)
        cfg["gitpuller"]["allowed_sources"].append(srv.base_url + "/")
        with Hub(tmp_path / "hub2", config=cfg) as hub:
            s = student(hub, "redirected")
            last = sync(hub, s, "redirected", repo=url, targetpath="course")[-1]
            assert last["phase"] == "finished", last
    finally:
        redirector.close()


def test_open_sign_up_from_a_link_leads_straight_back_to_the_sync(world, tmp_path):
    srv, url = world["srv"], world["url"]
    cfg = hub_config(srv.base_url)
    cfg["auth"] = {"type": "native", "native": {"open_signup": True}}
    with Hub(tmp_path / "hub", config=cfg) as hub:
        query = link_query(repo=url, branch="main", targetPath="week1", urlPath="tree/week1")
        s = hub.browser()
        r = s.get(hub.url + "hub/user-redirect/git-pull?" + query, allow_redirects=False, timeout=60)
        nxt = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)["next"][0]
        login = s.get(hub.url + "hub/login?next=" + urllib.parse.quote(nxt, safe=""), timeout=60).text
        signup_href = html.unescape(re.search(r'href="([^"]*signup[^"]*)"', login).group(1))
        r = hub.post_form(s, signup_href, {"username": "newcomer", "password": "Newcomer-Pass-1",
                                           "password_confirm": "Newcomer-Pass-1"})
        assert r.status_code == 302 and r.headers["Location"] == nxt
        r = s.get(hub.url + nxt.lstrip("/"), allow_redirects=False, timeout=60)
        assert r.headers["Location"] == "/user/newcomer/git-pull?" + query
        last = sync(hub, s, "newcomer", repo=url, branch="main", targetpath="week1")[-1]
        assert last["phase"] == "finished"
        stop_servers(hub)


def test_a_sync_cut_short_by_a_hub_crash_is_recorded_as_interrupted(world, tmp_path):
    srv, url = world["srv"], world["url"]
    hub = Hub(tmp_path / "hub", config=hub_config(srv.base_url)).start()
    try:
        s = student(hub, "crash")
        assert sync(hub, s, "crash", repo=url, targetpath="course")[-1]["phase"] == "finished"
        lock = open(home(hub, "crash") / "course" / ".git" / "coursehub-sync.lock", "a+")
        fcntl.flock(lock, fcntl.LOCK_EX)  # the next sync waits for this folder
        try:
            stream = events(hub, s, "crash", link_query(repo=url, targetpath="course"))
            assert stream.status_code == 200
            import time
            deadline = time.monotonic() + 120
            while len(pulls(hub)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert pulls(hub)[-1]["outcome"] == "running"
            hub.kill()
            stream.close()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
        hub.start()
        hub.wait_for_log("listening on")
        row = pulls(hub)[-1]
        assert row["outcome"] == "error" and row["error_code"] == "interrupted" and row["finished"]
    finally:
        if hub.proc and hub.proc.poll() is None:
            hub.stop()
