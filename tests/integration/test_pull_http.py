"""`coursehub pull` over smart HTTP (lighttpd + git http-backend on
127.0.0.1): the mirror cache under --prefix, one upstream download for a
burst of processes, worker mode, and private repositories."""

import os
import subprocess
import threading
from pathlib import Path

import pytest

from githttp import GitHttpServer
from pull_support import Teacher, all_bytes_under, coursehub, git, lines, pull, status


@pytest.fixture
def served(tmp_path):
    t = Teacher(tmp_path)
    for i in range(12):
        t.write(f"week{i // 4 + 1}/nb{i}.ipynb", lines(1, 300, f"cell {i} "))
    t.commit("material")
    with GitHttpServer(tmp_path / "srv") as srv:
        srv.add_repo("course", t.work)
        srv.add_repo("secret", t.work, private=True)
        yield t, srv


def teacher_push(t: Teacher, srv: GitHttpServer, name: str = "course", private: bool = False) -> str:
    git(t.work, "add", "-A")
    git(t.work, "commit", "-q", "-m", "update")
    git(t.work, "push", "-q", "--force", str(srv.repo_path(name, private)), "HEAD:main")
    return git(t.work, "rev-parse", "HEAD").strip()


def test_direct_sync_over_http_clones_and_updates(tmp_path, served):
    t, srv = served
    d = tmp_path / "course"
    r = pull(srv.url("course"), d, "--json")
    assert r.code == 0, r.err
    assert r.report["outcome"] == "cloned"
    t.write("week1/nb0.ipynb", "teacher 1\n" + lines(2, 300, "cell 0 "))
    tip = teacher_push(t, srv)
    r = pull(srv.url("course"), d, "--json")
    assert r.code == 0, r.err
    assert r.report["outcome"] == "fast_forwarded"
    assert git(d, "rev-parse", "HEAD").strip() == tip
    assert git(d, "remote", "get-url", "origin").strip() == srv.url("course")


def test_a_burst_of_processes_makes_one_upstream_download(tmp_path, served):
    t, srv = served
    prefix = tmp_path / "prefix"
    srv.reset_log()
    n = 10
    results = [None] * n

    def run(i):
        results[i] = pull(srv.url("course"), tmp_path / f"students/s{i}/course", "--prefix", prefix, "--json")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [r.code for r in results] == [0] * n, [r.err for r in results if r.code]
    tip = git(t.work, "rev-parse", "HEAD").strip()
    for i in range(n):
        d = tmp_path / f"students/s{i}/course"
        assert results[i].report["outcome"] == "cloned"
        assert git(d, "rev-parse", "HEAD").strip() == tip
        assert (d / "week3/nb11.ipynb").read_text() == lines(1, 300, "cell 11 ")
        assert status(d) == ""
    assert srv.count("fetch", "course") == 1
    # Every sync still looked at upstream's refs.
    assert srv.count("refs", "course") >= n
    assert sum(1 for r in results if r.report["upstream_fetched"]) == 1


def test_a_resync_checks_upstream_refs_and_never_serves_stale_content(tmp_path, served):
    t, srv = served
    prefix = tmp_path / "prefix"
    d = tmp_path / "course"
    assert pull(srv.url("course"), d, "--prefix", prefix).code == 0
    srv.reset_log()
    r = pull(srv.url("course"), d, "--prefix", prefix, "--json")
    assert r.report["outcome"] == "up_to_date"
    assert srv.count("fetch") == 0 and srv.count("refs") == 1
    # Upstream moves on right after: the very next sync gets it.
    t.write("week1/nb1.ipynb", "changed\n")
    tip = teacher_push(t, srv)
    r = pull(srv.url("course"), d, "--prefix", prefix, "--json")
    assert r.code == 0, r.err
    assert r.report["outcome"] == "fast_forwarded"
    assert git(d, "rev-parse", "HEAD").strip() == tip
    assert srv.count("fetch") == 1


def test_a_worker_syncs_from_the_mirror_alone(tmp_path, served):
    """The hub's system-user mode: a privileged refresh, then an unprivileged
    worker that only reads the mirror (here: upstream is stopped meanwhile)."""
    t, srv = served
    prefix = tmp_path / "prefix"
    assert pull(srv.url("course"), tmp_path / "warm", "--prefix", prefix).code == 0
    [mirror] = list((prefix / "state/mirrors").glob("*.git"))
    srv.stop()
    d = tmp_path / "student/course"
    r = pull(srv.url("course"), d, "--from-mirror", mirror, "--json")
    assert r.code == 0, r.err
    assert r.report["outcome"] == "cloned"
    assert git(d, "remote", "get-url", "origin").strip() == srv.url("course")
    assert status(d) == ""
    # Mirror files are readable by others; the state folder's secrets are not.
    for p in mirror.rglob("*"):
        assert p.stat().st_mode & 0o004, p


def test_the_git_suffix_and_a_trailing_slash_name_the_same_repository_and_mirror(tmp_path, served):
    t, srv = served
    prefix = tmp_path / "prefix"
    d = tmp_path / "course"
    assert pull(srv.url("course"), d, "--prefix", prefix).code == 0
    # The server answers for …/course too, as hosting sites do.
    bare = srv.repo_path("course")
    os.symlink(bare.name, bare.parent / "course")
    srv.reset_log()
    for url in (srv.url("course") + "/", srv.url("course")[: -len(".git")]):
        r = pull(url, d, "--prefix", prefix, "--json")
        assert r.code == 0, r.err
        assert r.report["outcome"] == "up_to_date"
    assert len(list((prefix / "state/mirrors").glob("*.git"))) == 1
    assert srv.count("fetch") == 0
    assert git(d, "remote", "get-url", "origin").strip() == srv.url("course")


def test_an_unreachable_upstream_fails_with_fetch_and_touches_nothing(tmp_path, served):
    """Upstream down when a student syncs again: error code fetch (clone for
    a first sync, with no folder left behind), the student's edits intact."""
    t, srv = served
    prefix = tmp_path / "prefix"
    direct, cached = tmp_path / "direct", tmp_path / "cached"
    assert pull(srv.url("course"), direct).code == 0
    assert pull(srv.url("course"), cached, "--prefix", prefix).code == 0
    for d in (direct, cached):
        (d / "week1/nb0.ipynb").write_text("my work\n")
        (d / "mine.txt").write_text("mine\n")
    srv.stop()
    for d, extra in ((direct, []), (cached, ["--prefix", prefix])):
        head = git(d, "rev-parse", "HEAD").strip()
        r = pull(srv.url("course"), d, *extra, "--json")
        assert r.code != 0
        assert r.error_line.startswith("error: fetch: "), r.err
        assert r.events[-1]["error"]["code"] == "fetch"
        assert (d / "week1/nb0.ipynb").read_text() == "my work\n"
        assert (d / "mine.txt").read_text() == "mine\n"
        assert git(d, "rev-parse", "HEAD").strip() == head
        assert not (d / ".git/index.lock").exists()
    r = pull(srv.url("course"), tmp_path / "new", "--prefix", prefix)
    assert r.code != 0 and r.error_line.startswith("error: clone: "), r.err
    assert not (tmp_path / "new").exists()


def test_a_private_repository_needs_a_stored_credential(tmp_path, served):
    t, srv = served
    prefix = tmp_path / "prefix"
    d = tmp_path / "course"
    r = pull(srv.url("secret", private=True), d, "--prefix", prefix)
    assert r.code != 0
    assert r.error_line.startswith("error: auth: "), r.err
    assert srv.base_url + "/private/secret/" in r.error_line  # names the prefix to add
    assert not d.exists()

    add = coursehub("cred", "add", srv.base_url + "/private/", "--username", srv.username, "--token-stdin",
                    "--prefix", prefix, input=srv.password + "\n")
    assert add.code == 0, add.err
    assert srv.password not in add.out + add.err
    r = pull(srv.url("secret", private=True), d, "--prefix", prefix, "--json")
    assert r.code == 0, r.err
    assert r.report["outcome"] == "cloned"
    # The token is nowhere: output, the student's folder (config included), the mirror.
    assert srv.password not in r.out + r.err
    assert srv.password.encode() not in all_bytes_under(d)
    assert srv.password.encode() not in all_bytes_under(prefix / "state/mirrors")
    assert git(d, "remote", "get-url", "origin").strip() == srv.url("secret", private=True)
    listing = coursehub("cred", "list", "--prefix", prefix)
    assert srv.password[-4:] in listing.out and srv.password not in listing.out
    assert "last_used=never" not in listing.out
    # Without a prefix, upstream is asked directly, with no stored credential;
    # COURSEHUB_PREFIX stands for --prefix.
    r = pull(srv.url("secret", private=True), tmp_path / "direct")
    assert r.code != 0 and r.error_line.startswith("error: auth: "), r.err
    assert not (tmp_path / "direct").exists()
    r = pull(srv.url("secret", private=True), tmp_path / "from-env", "--json", env={"COURSEHUB_PREFIX": str(prefix)})
    assert r.code == 0, r.err
    assert r.report["upstream_fetched"] is False  # filled from the mirror the first sync made


def test_a_rejected_credential_fails_with_auth_and_is_recorded(tmp_path, served):
    t, srv = served
    prefix = tmp_path / "prefix"
    assert coursehub("cred", "add", srv.base_url + "/private", "--username", srv.username, "--token-stdin",
                     "--prefix", prefix, input="wrong-token-0000").code == 0
    r = pull(srv.url("secret", private=True), tmp_path / "course", "--prefix", prefix)
    assert r.code != 0 and r.error_line.startswith("error: auth: "), r.err
    assert "rejected" in r.err
    assert "wrong-token" not in r.out + r.err
    listing = coursehub("cred", "list", "--prefix", prefix, "--json")
    [entry] = __import__("json").loads(listing.out)
    assert entry["last_error"] and "wrong-token" not in entry["last_error"]
    # What an admin reads in the alert says what happened, not libgit2's last unrelated complaint.
    assert "HTTP 401" in entry["last_error"] and "config value" not in entry["last_error"], entry


def test_a_credential_is_not_offered_outside_its_prefix(tmp_path, served):
    t, srv = served
    prefix = tmp_path / "prefix"
    assert coursehub("cred", "add", srv.base_url + "/private/other-course", "--username", srv.username,
                     "--token-stdin", "--prefix", prefix, input=srv.password).code == 0
    r = pull(srv.url("secret", private=True), tmp_path / "course", "--prefix", prefix)
    assert r.code != 0 and r.error_line.startswith("error: auth: ")
    assert not any(req.user for req in srv.requests())


def test_an_old_folder_with_a_token_in_its_origin_is_cleaned(tmp_path, served):
    """The usual TLJH workaround put tokens into URLs; after a sync the
    student's folder no longer holds one."""
    t, srv = served
    prefix = tmp_path / "prefix"
    token_url = srv.url("secret", private=True).replace("http://", f"http://{srv.username}:{srv.password}@")
    d = tmp_path / "course"
    git(tmp_path, "clone", "-q", "--depth", "1", token_url, str(d))
    assert srv.password.encode() in (d / ".git/config").read_bytes()
    assert coursehub("cred", "add", srv.base_url + "/private/", "--username", srv.username, "--token-stdin",
                     "--prefix", prefix, input=srv.password).code == 0
    t.write("week1/nb0.ipynb", "new\n")
    tip = teacher_push(t, srv, "secret", private=True)
    r = pull(srv.url("secret", private=True), d, "--prefix", prefix, "--json")
    assert r.code == 0, r.err
    assert git(d, "rev-parse", "HEAD").strip() == tip
    assert srv.password.encode() not in all_bytes_under(d / ".git")
    assert not (d / ".git/shallow").exists()


def test_cred_test_checks_access_without_printing_the_secret(tmp_path, served):
    t, srv = served
    prefix = tmp_path / "prefix"
    r = coursehub("cred", "test", srv.url("secret", private=True), "--prefix", prefix)
    assert r.code != 0 and r.error_line.startswith("error: auth: ")
    assert coursehub("cred", "add", srv.base_url + "/private/", "--username", srv.username, "--token-stdin",
                     "--prefix", prefix, input=srv.password).code == 0
    r = coursehub("cred", "test", srv.url("secret", private=True), "--prefix", prefix)
    assert r.code == 0, r.err
    assert "OK" in r.out and "main" in r.out
    assert srv.password not in r.out + r.err


def test_https_with_a_private_ca_clone_update_and_stored_credential(tmp_path):
    """https:// through libgit2's TLS on top of the engine's own TCP stream;
    the CA is trusted through SSL_CERT_FILE."""
    t = Teacher(tmp_path)
    t.write("a.txt", "one\n")
    t.commit()
    with GitHttpServer(tmp_path / "srv", tls=True) as srv:
        srv.add_repo("course", t.work)
        srv.add_repo("secret", t.work, private=True)
        env = srv.client_env()
        d = tmp_path / "course"
        r = pull(srv.url("course"), d, "--json", env=env)
        assert r.code == 0, r.err
        assert r.report["outcome"] == "cloned"
        t.write("a.txt", "two\n")
        tip = teacher_push(t, srv)
        r = pull(srv.url("course"), d, "--prefix", tmp_path / "prefix", "--json", env=env)
        assert r.code == 0, r.err
        assert git(d, "rev-parse", "HEAD").strip() == tip
        # Without trusting the CA, the certificate is refused.
        r = pull(srv.url("course"), tmp_path / "other")
        assert r.code != 0 and r.error_line.startswith("error: clone: "), r.err
        assert "certificate" in r.err.lower()
        # A private repository with a stored credential.
        assert coursehub("cred", "add", srv.base_url + "/private/", "--username", srv.username, "--token-stdin",
                         "--prefix", tmp_path / "prefix", input=srv.password).code == 0
        r = pull(srv.url("secret", private=True), tmp_path / "secret", "--prefix", tmp_path / "prefix", env=env)
        assert r.code == 0, r.err
        assert srv.password.encode() not in all_bytes_under(tmp_path / "secret")


class _Redirector:
    """A plain-HTTP server on 127.0.0.1 answering every GET with a redirect
    to the same path under `target` (scheme://host:port)."""

    def __init__(self, target: str):
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(301)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_an_http_url_redirected_to_https_still_checks_the_certificate(tmp_path):
    """http:// syncs skip loading the CA bundle, unless a connection goes
    elsewhere, such as a redirect to https:// (as GitHub does)."""
    t = Teacher(tmp_path)
    t.write("a.txt", "one\n")
    t.commit()
    with GitHttpServer(tmp_path / "srv", tls=True) as srv:
        srv.add_repo("course", t.work)
        redirector = _Redirector(srv.origin)
        try:
            url = srv.url("course").replace(srv.origin, f"http://127.0.0.1:{redirector.port}")
            r = pull(url, tmp_path / "untrusted")
            assert r.code != 0 and r.error_line.startswith("error: clone: "), r.err
            assert "certificate" in r.err.lower()
            assert not (tmp_path / "untrusted").exists()
            r = pull(url, tmp_path / "course", "--json", env=srv.client_env())
            assert r.code == 0, r.err
            assert (tmp_path / "course/a.txt").read_text() == "one\n"
            r = pull(url, tmp_path / "course", "--prefix", tmp_path / "prefix", "--json", env=srv.client_env())
            assert r.code == 0, r.err
            assert r.report["outcome"] == "up_to_date"
        finally:
            redirector.close()
