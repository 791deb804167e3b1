"""Accounts through the real hub: sign-up, approval, login, sessions, logout,
XSRF, lockout, first-use authentication, password changes."""
import stat

import pytest

from hubproc import Hub

ADMIN_PW = "Admin-Pass-2024"
ALICE_PW = "Alice-Secret-77"


@pytest.fixture
def hub(tmp_path):
    h = Hub(tmp_path, config={"users": {"admin": ["boss"]}})
    h.add_user("boss", ADMIN_PW, admin=True)
    h.start()
    yield h
    h.stop()


def signup(hub, name, password, confirm=None):
    s = hub.browser()
    r = hub.post_form(s, "hub/signup", {"username": name, "password": password,
                                         "password_confirm": password if confirm is None else confirm})
    return r


def test_state_folder_is_private_and_readiness_answers(hub):
    state = hub.prefix / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "cookie_secret").stat().st_mode) == 0o600
    assert (state / "hub.pid").read_text().strip() == str(hub.proc.pid)
    r = hub.browser().get(hub.url + "hub/api", timeout=30)
    assert r.status_code == 200 and "version" in r.json()
    # The line is written once the response went out, which may be just after the client read it.
    hub.wait_for_log("200 GET /hub/api ")


def test_signup_approval_login_restart_logout(hub):
    r = signup(hub, "Alice", ALICE_PW)
    assert r.status_code == 200
    assert "admin must approve" in r.text

    # Not approved yet: the right password still does not get in.
    s = hub.login("alice", ALICE_PW, expect_ok=False)
    assert s.last_response.status_code == 403
    assert "approval" in s.last_response.text

    admin = hub.login("boss", ADMIN_PW)
    page = admin.get(hub.url + "hub/authorize", timeout=30)
    assert 'data-user="alice"' in page.text
    r = hub.post_form(admin, "hub/authorize/alice", {})
    assert r.status_code == 200 and "Approved alice" in r.text
    assert 'id="no-pending"' in r.text

    alice = hub.login("ALICE", ALICE_PW, next_path="/hub/home")
    assert alice.last_response.headers["Location"] == "/hub/home"
    cookie = next(c for c in alice.cookies if c.name == "coursehub-session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    set_cookie = alice.last_response.headers["Set-Cookie"]
    assert "SameSite=Lax" in set_cookie and "HttpOnly" in set_cookie
    home = alice.get(hub.url + "hub/home", allow_redirects=False, timeout=30)
    assert home.status_code == 200 and "Welcome, alice" in home.text

    # The session survives a restart of the hub (persisted secret and sessions).
    hub.restart()
    home = alice.get(hub.url + "hub/home", allow_redirects=False, timeout=30)
    assert home.status_code == 200 and "Welcome, alice" in home.text

    # Logout revokes the server-side session: replaying the old cookie fails.
    old_cookie = alice.cookies.get("coursehub-session")
    r = hub.post_form(alice, "hub/logout", {})
    assert r.status_code == 302
    replay = hub.browser()
    replay.cookies.set("coursehub-session", old_cookie)
    r = replay.get(hub.url + "hub/home", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "/hub/login?next=" in r.headers["Location"]
    r = hub.api("GET", "user", session=replay)
    assert r.status_code == 401


def test_xsrf_is_required_on_forms_and_cookie_api_calls(hub):
    s = hub.browser()
    hub.xsrf(s)
    r = s.post(hub.url + "hub/login", data={"username": "boss", "password": ADMIN_PW}, allow_redirects=False)
    assert r.status_code == 403 and "_xsrf" in r.text
    r = s.post(hub.url + "hub/login", data={"username": "boss", "password": ADMIN_PW, "_xsrf": "0" * 32},
               allow_redirects=False)
    assert r.status_code == 403

    admin = hub.login("boss", ADMIN_PW)
    # A form without the token does nothing.
    r = admin.post(hub.url + "hub/admin/users/add", data={"username": "mallory"}, allow_redirects=False)
    assert r.status_code == 403
    # Cookie-authenticated API calls need X-XSRFToken, even GET.
    r = admin.get(hub.url + "hub/api/user", timeout=30)
    assert r.status_code == 403
    r = admin.post(hub.url + "hub/api/users/mallory", json={}, timeout=30)
    assert r.status_code == 403
    assert hub.cli("user", "list").stdout.count("mallory") == 0
    r = hub.api("GET", "user", session=admin)
    assert r.status_code == 200 and r.json()["name"] == "boss"
    # A token needs no XSRF.
    r = hub.api("GET", "user", token=hub.token("boss"))
    assert r.status_code == 200


def test_wrong_passwords_lock_the_account_even_across_restarts(hub):
    hub.add_user("carol", "Carol-Pass-123")
    for _ in range(5):
        s = hub.login("carol", "wrong-password", expect_ok=False)
        assert s.last_response.status_code == 403
        assert "Invalid username or password" in s.last_response.text
    s = hub.login("carol", "Carol-Pass-123", expect_ok=False)
    assert s.last_response.status_code == 429
    assert "Too many failed sign-in attempts" in s.last_response.text
    assert int(s.last_response.headers["Retry-After"]) > 0
    hub.restart()
    s = hub.login("carol", "Carol-Pass-123", expect_ok=False)
    assert s.last_response.status_code == 429
    # Another user from the same address is not locked out by carol's lock.
    hub.login("boss", ADMIN_PW)
    # An admin's password reset clears the lock.
    hub.cli("user", "set-password", "carol", "--password-stdin", input="Carol-New-Pass-1\n")
    hub.login("carol", "Carol-New-Pass-1")
    assert "wrong-password" not in hub.log() and "Carol-Pass-123" not in hub.log()


def test_signup_rules(hub):
    r = signup(hub, "dave", "short")
    assert r.status_code == 400 and "at least 8 characters" in r.text
    r = signup(hub, "dave", "password123")
    assert r.status_code == 400 and "common" in r.text
    r = signup(hub, "dave", "Dave-Pass-123", confirm="Dave-Pass-124")
    assert r.status_code == 400 and "differ" in r.text
    r = signup(hub, "dave", "Dave-Pass-123")
    assert r.status_code == 200
    r = signup(hub, "DAVE", "Other-Pass-456")
    assert r.status_code == 409 and "taken" in r.text
    # Taking over an admin's name is refused once the admin has a password.
    r = signup(hub, "boss", "Hijack-Pass-99")
    assert r.status_code == 409
    hub.login("boss", ADMIN_PW)


def test_change_password_signs_out_other_sessions(hub):
    hub.add_user("erin", "Erin-Pass-1234")
    phone = hub.login("erin", "Erin-Pass-1234")
    laptop = hub.login("erin", "Erin-Pass-1234")
    r = hub.post_form(laptop, "hub/change-password", {"current_password": "nope-nope-nope",
                                                       "new_password": "Erin-New-5678",
                                                       "new_password_confirm": "Erin-New-5678"})
    assert r.status_code == 403
    r = hub.post_form(laptop, "hub/change-password", {"current_password": "Erin-Pass-1234",
                                                       "new_password": "Erin-New-5678",
                                                       "new_password_confirm": "Erin-New-5678"})
    assert r.status_code == 200 and "Password changed" in r.text
    assert laptop.get(hub.url + "hub/home", allow_redirects=False).status_code == 200
    assert phone.get(hub.url + "hub/home", allow_redirects=False).status_code == 302
    hub.login("erin", "Erin-New-5678")
    assert hub.login("erin", "Erin-Pass-1234", expect_ok=False).last_response.status_code == 403


def test_first_use_authenticator_sets_the_password_on_first_login(tmp_path):
    config = {"auth": {"type": "firstuseauthenticator.FirstUseAuthenticator", "firstuse": {"create_users": True}}}
    with Hub(tmp_path, config=config) as hub:
        r = hub.browser().get(hub.url + "hub/signup", allow_redirects=False)
        assert r.status_code == 404
        s = hub.login("Frank", "Frank-Pass-123")
        assert s.get(hub.url + "hub/home", allow_redirects=False).status_code == 200
        assert "frank" in hub.cli("user", "list").stdout
        assert hub.login("frank", "Another-Pass-456", expect_ok=False).last_response.status_code == 403
        hub.login("frank", "Frank-Pass-123")
        s = hub.login("gina", "short", expect_ok=False)
        assert s.last_response.status_code == 400
        assert "gina" not in hub.cli("user", "list").stdout


def test_banned_user_loses_access_on_reload(hub):
    hub.add_user("henry", "Henry-Pass-123")
    henry = hub.login("henry", "Henry-Pass-123")
    assert henry.get(hub.url + "hub/home", allow_redirects=False).status_code == 200
    hub.write_config({"users": {"admin": ["boss"], "banned": ["henry"]}})
    hub.reload()
    assert henry.get(hub.url + "hub/home", allow_redirects=False).status_code == 302
    assert hub.login("henry", "Henry-Pass-123", expect_ok=False).last_response.status_code == 403
    # A broken config is refused and the running one stays.
    (hub.prefix / "config" / "config.yaml").write_text("users: [this is: not valid\n")
    hub.reload(wait_for="config reload failed")
    assert hub.login("boss", ADMIN_PW)


def test_first_use_without_create_users_only_admits_known_names(tmp_path):
    with Hub(tmp_path, config={"auth": {"type": "firstuse"}}) as hub:
        hub.add_user("known")
        assert hub.login("stranger", "Stranger-Pass-1", expect_ok=False).last_response.status_code == 403
        assert "stranger" not in hub.cli("user", "list").stdout
        hub.login("known", "Known-Pass-123")
        assert hub.login("known", "Other-Pass-456", expect_ok=False).last_response.status_code == 403
