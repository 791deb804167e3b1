"""Stored git credentials in the hub, as an admin manages them (API and
page), against a real private repository behind HTTP Basic auth: add, test,
rotate, expiry, revoke; alerts that name a broken credential on the admin
pages and nowhere else; 403 for everyone but admins.  The secret never
appears in a response, the hub's log, `ps`, or the state folder in clear."""

import json

import pytest

from course_support import by_id, make_course_repo, ps_lines
from githttp import GitHttpServer
from hubproc import Hub

ADMIN_PW = "Admin-Pass-2024"
WRONG = "wrong-token-zz9999"


@pytest.fixture()
def env(tmp_path):
    teacher = make_course_repo(tmp_path / "teacher")
    with GitHttpServer(tmp_path / "git", password="s3cret-Tok3n-8421") as srv:
        url = srv.add_repo("secret", teacher.work, private=True)
        with Hub(tmp_path / "hub", config={"gitpuller": {"allowed_sources": [srv.base_url + "/"]}}) as hub:
            hub.add_user("admin", ADMIN_PW, admin=True)
            hub.add_user("ines", "Teach-Pass-2024")
            hub.cli("user", "instructor", "ines", "on")
            hub.add_user("sam", "Student-Pass-77")
            yield {"hub": hub, "srv": srv, "url": url, "prefix": srv.base_url + "/private/",
                   "secrets": [srv.password, WRONG]}


class Recorder:
    """Keeps every response body so the test can check none holds a secret."""

    def __init__(self):
        self.bodies = []

    def __call__(self, r):
        self.bodies.append(r.text)
        for name, value in r.headers.items():
            self.bodies.append(f"{name}: {value}")
        return r


def assert_no_secret(env, rec, tmp_path=None):
    hub = env["hub"]
    for secret in env["secrets"]:
        for body in rec.bodies:
            assert secret not in body
        assert secret not in hub.log()
        assert secret not in ps_lines()
        for p in (hub.prefix / "state").rglob("*"):
            if p.is_file():
                assert secret.encode() not in p.read_bytes(), p


def test_admins_manage_credentials_through_the_api(env):
    hub, srv, prefix, url = env["hub"], env["srv"], env["prefix"], env["url"]
    rec = Recorder()
    admin = hub.token("admin")
    call = lambda method, path, **kw: rec(hub.api(method, path, token=admin, **kw))  # noqa: E731

    assert call("GET", "credentials").json() == []
    r = call("POST", "credentials", json={"prefix": prefix, "username": srv.username, "secret": srv.password,
                                          "expires": "2099-06-30"})
    assert r.status_code == 201, r.text
    cred = r.json()
    assert cred["prefix"] == prefix and cred["username"] == srv.username
    assert cred["last4"] == srv.password[-4:] and cred["expires"] == "2099-06-30"
    assert cred["status"] == "unused" and cred["last_used"] is None and cred["problem"] is None
    cid = cred["id"]
    assert call("POST", "credentials", json={"prefix": prefix, "username": "x", "secret": "y"}).status_code == 409

    # Instructors and students: 403, on every verb.
    for who in ("ines", "sam"):
        token = hub.token(who)
        for method, path in (("GET", "credentials"), ("POST", "credentials"), ("GET", f"credentials/{cid}"),
                             ("PATCH", f"credentials/{cid}"), ("DELETE", f"credentials/{cid}"),
                             ("POST", f"credentials/{cid}/test")):
            r = rec(hub.api(method, path, token=token, json={"secret": "x"}))
            assert r.status_code == 403, (who, method, path)

    # Testing needs a repository under the prefix: the registered course's.
    r = call("POST", f"credentials/{cid}/test", json={})
    assert r.status_code == 400 and "give the URL" in r.json()["message"]
    r = call("POST", f"credentials/{cid}/test", json={"url": "https://elsewhere.example.org/x.git"})
    assert r.status_code == 400 and "not under" in r.json()["message"]
    assert call("POST", "courses", json={"repo": url, "title": "Private course"}).status_code == 201
    r = call("POST", f"credentials/{cid}/test", json={})
    assert r.status_code == 200
    result = r.json()
    assert result["ok"] is True and result["branches"] == 2 and result["default_branch"] == "main", result
    assert result["credential"]["last_used"] is not None and result["credential"]["status"] == "ok"
    assert srv.count("refs", "secret") >= 1

    # A wrong token: the server rejects it; admins see an alert naming it.
    r = call("PATCH", f"credentials/{cid}", json={"secret": WRONG})
    assert r.status_code == 200 and r.json()["last4"] == "9999"
    result = call("POST", f"credentials/{cid}/test", json={"url": url}).json()
    assert result["ok"] is False and result["code"] == "auth"
    got = call("GET", f"credentials/{cid}").json()
    assert got["status"] == "rejected" and "rejected by the server" in got["problem"]
    assert got["last_error"] and got["last_error_at"]
    admin_page = hub.login("admin", ADMIN_PW)
    page = rec(admin_page.get(hub.url + "hub/admin", timeout=60)).text
    assert prefix in by_id(page, "credential-alerts") and "rejected" in by_id(page, "credential-alerts")
    for who, pw in (("ines", "Teach-Pass-2024"), ("sam", "Student-Pass-77")):
        s = hub.login(who, pw)
        for path in ("hub/home", "hub/courses"):
            text = rec(s.get(hub.url + path, timeout=60)).text
            assert 'id="credential-alerts"' not in text and "rejected" not in text

    # Expiry alone changes without touching the token.
    r = call("PATCH", f"credentials/{cid}", json={"expires": "2001-01-01"})
    assert r.status_code == 200
    got = r.json()
    assert got["expired"] is True and got["status"] == "expired" and got["last4"] == "9999"
    assert "expired on 2001-01-01" in by_id(rec(admin_page.get(hub.url + "hub/admin", timeout=60)).text,
                                            "credential-alerts")

    # Rotating back to the right token (and no expiry) clears the alert.
    r = call("PATCH", f"credentials/{cid}", json={"secret": srv.password, "expires": None})
    assert r.status_code == 200 and r.json()["expires"] is None and r.json()["last4"] == srv.password[-4:]
    assert call("POST", f"credentials/{cid}/test", json={}).json()["ok"] is True
    assert call("GET", f"credentials/{cid}").json()["status"] == "ok"
    assert "credential-alerts" not in rec(admin_page.get(hub.url + "hub/admin", timeout=60)).text

    # Bad input: a clear 400, nothing stored.
    for body in ({"prefix": "ftp://x/", "username": "u", "secret": "s"},
                 {"prefix": "https://h.example/", "username": "u"},
                 {"prefix": "https://h.example/", "username": "", "secret": "s"},
                 {"prefix": "https://u:p@h.example/", "username": "u", "secret": "s"},
                 {"prefix": "https://h.example/", "username": "u", "secret": "s", "expires": "30/06/2099"},
                 {"prefix": "https://h.example/", "username": "u", "secret": "s", "colour": "red"},
                 {"prefix": "https://h.example/", "username": "u", "secret": "line\nbreak"}):
        r = call("POST", "credentials", json=body)
        assert r.status_code == 400, (body, r.text)
    r = call("POST", "credentials", data="{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert len(call("GET", "credentials").json()) == 1
    assert call("PATCH", f"credentials/{cid}", json={"expires": "tomorrow"}).status_code == 400
    assert call("GET", "credentials/0123456789abcdef").status_code == 404

    # A cookie-authenticated call needs the XSRF header.
    r = rec(admin_page.get(hub.url + "hub/api/credentials", timeout=60))
    assert r.status_code == 403
    assert rec(hub.api("GET", "credentials", session=admin_page)).status_code == 200

    assert call("DELETE", f"credentials/{cid}").status_code == 204
    assert call("GET", "credentials").json() == []
    assert call("POST", f"credentials/{cid}/test", json={}).status_code == 404
    assert_no_secret(env, rec)


def test_admins_manage_credentials_on_the_page(env):
    hub, srv, prefix, url = env["hub"], env["srv"], env["prefix"], env["url"]
    rec = Recorder()
    admin = hub.login("admin", ADMIN_PW)
    sam = hub.login("sam", "Student-Pass-77")
    ines = hub.login("ines", "Teach-Pass-2024")
    for s in (sam, ines):
        assert rec(s.get(hub.url + "hub/admin/credentials", timeout=60)).status_code == 403
        assert rec(hub.post_form(s, "hub/admin/credentials/add", {"prefix": prefix, "username": "u",
                                                                   "secret": srv.password})).status_code == 403
    assert json.loads(hub.cli("cred", "list", "--json").stdout) == []

    page = rec(admin.get(hub.url + "hub/admin/credentials", timeout=60)).text
    assert 'id="no-credentials"' in page and 'id="nav-credentials"' in page
    # Without the XSRF field: refused, nothing stored.
    r = rec(hub.post_form(admin, "hub/admin/credentials/add",
                          {"prefix": prefix, "username": srv.username, "secret": srv.password}, xsrf=False))
    assert r.status_code == 403
    assert json.loads(hub.cli("cred", "list", "--json").stdout) == []

    # A bad date: the error, the typed prefix and user kept, never the token.
    r = rec(hub.post_form(admin, "hub/admin/credentials/add", {"prefix": prefix, "username": "<b>u</b>",
                                                               "secret": srv.password, "expires": "soon"}))
    assert r.status_code == 400 and "YYYY-MM-DD" in by_id(r.text, "credentials-error")
    assert "&lt;b&gt;u&lt;/b&gt;" in r.text and "<b>u</b>" not in r.text

    r = rec(hub.post_form(admin, "hub/admin/credentials/add", {"prefix": prefix, "username": srv.username,
                                                               "secret": srv.password + "\n", "expires": "2099-01-31"}))
    assert r.status_code == 303
    page = rec(admin.get(hub.url + r.headers["Location"].lstrip("/"), timeout=60)).text
    assert "Stored the credential" in by_id(page, "credentials-message")
    row = by_id(page, "credentials")
    assert prefix in row and "…" + srv.password[-4:] in row and "2099-01-31" in row and "not used yet" in row
    cid = json.loads(hub.cli("cred", "list", "--json").stdout)[0]
    assert cid["last4"] == srv.password[-4:]

    # The engine really uses it (CLI and hub share the store).
    r = hub.cli("cred", "test", url, check=False)
    assert r.returncode == 0, r.stderr

    api = hub.api("GET", "credentials", token=hub.token("admin")).json()[0]
    r = rec(hub.post_form(admin, f"hub/admin/credentials/{api['id']}/test", {"url": url}))
    assert r.status_code == 200 and "OK." in by_id(r.text, "test-result")

    r = rec(hub.post_form(admin, f"hub/admin/credentials/{api['id']}/rotate", {"secret": WRONG}))
    assert r.status_code == 303
    r = rec(hub.post_form(admin, f"hub/admin/credentials/{api['id']}/test", {"url": url}))
    assert "failed (auth)" in by_id(r.text, "test-result")
    assert prefix in by_id(r.text, "credential-alerts")
    assert "rejected" in by_id(r.text, "credentials")

    r = rec(hub.post_form(admin, f"hub/admin/credentials/{api['id']}/expires", {"expires": "2098-12-24"}))
    assert r.status_code == 303
    page = rec(admin.get(hub.url + "hub/admin/credentials", timeout=60)).text
    assert "2098-12-24" in by_id(page, "credentials") and "…9999" in by_id(page, "credentials")

    r = rec(hub.post_form(admin, f"hub/admin/credentials/{api['id']}/revoke", {}))
    assert r.status_code == 303
    page = rec(admin.get(hub.url + r.headers["Location"].lstrip("/"), timeout=60)).text
    assert "Revoked" in by_id(page, "credentials-message") and 'id="no-credentials"' in page
    assert rec(hub.post_form(admin, f"hub/admin/credentials/{api['id']}/revoke", {})).status_code == 404
    # Without the credential the private repository is refused, with advice.
    r = hub.cli("cred", "test", url, check=False)
    assert r.returncode != 0 and "error: auth:" in r.stderr
    assert_no_secret(env, rec)
