"""Hostile and malformed input: each gets a clear error or is normalised the
documented way; nothing crashes, nothing is stored half-made."""
import socket

import pytest

from hubproc import Hub

XSS = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'
SQL = "x' OR '1'='1'; DROP TABLE users; --"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp("bad"))
    h.start()
    h.add_user("admin", "Admin-Pass-1234", admin=True)
    h.add_user("stu", "Stu-Pass-12345")
    h.admin_token = h.token("admin")
    yield h
    h.stop()


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example", "\\\\evil",
                                    "http:/evil.example", "/%2F%2Fevil.example", "//evil.example/hub/home",
                                    "javascript:alert(1)", "/hub/home\r\nSet-Cookie: x=1"])
def test_hostile_next_never_leaves_the_hub(hub, target):
    s = hub.login("stu", "Stu-Pass-12345", next_path=target)
    location = s.last_response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert "evil" not in location.split("?")[0] or location.startswith("/%2F")
    assert "\n" not in location and "\r" not in location
    # Already logged in: GET /hub/login?next=... redirects the same safe way.
    r = s.get(hub.url + "hub/login", params={"next": target}, allow_redirects=False)
    assert r.headers["Location"].startswith("/") and not r.headers["Location"].startswith("//")


def test_local_next_is_honoured(hub):
    s = hub.login("stu", "Stu-Pass-12345", next_path="/hub/change-password")
    assert s.last_response.headers["Location"] == "/hub/change-password"


@pytest.mark.parametrize("name,fragment", [
    ("a/b", "'/'"), ("two words", "spaces"), ("ünïcödé", "ASCII"), ("x" * 200, "at most 64"),
    ("tab\there", "control characters"), ("", "required"), ("-dash", "start with"), (XSS, "not allowed"),
    (SQL, "not allowed"),
])
def test_bad_usernames_are_refused_with_a_reason(hub, name, fragment):
    before = hub.cli("user", "list").stdout
    r = hub.api("POST", "users", token=hub.admin_token, json={"usernames": [name]})
    assert r.status_code == 400 and fragment in r.json()["message"]
    s = hub.browser()
    r = hub.post_form(s, "hub/signup", {"username": name, "password": "Valid-Pass-123", "password_confirm": "Valid-Pass-123"})
    assert r.status_code == 400 and "<script>" not in r.text and "<img" not in r.text
    assert hub.cli("user", "list").stdout == before


def test_uppercase_and_padding_are_normalised(hub):
    r = hub.api("POST", "users", token=hub.admin_token, json={"usernames": ["  Mixed.Case_Name@Uni  "]})
    assert r.status_code == 201 and r.json()[0]["name"] == "mixed.case_name@uni"
    assert hub.api("GET", "users/MIXED.CASE_NAME@UNI", token=hub.admin_token).json()["name"] == "mixed.case_name@uni"


def test_sql_metacharacters_are_just_data(hub):
    s = hub.login(SQL, "whatever-pass", expect_ok=False)
    assert s.last_response.status_code == 400
    r = hub.api("GET", "users", token=hub.admin_token, params={"name_filter": SQL})
    assert r.status_code == 200 and r.json() == []
    r = hub.api("POST", "users/stu/tokens", token=hub.token("stu"), json={"note": SQL})
    assert r.status_code == 201 and r.json()["note"] == SQL
    admin = hub.login("admin", "Admin-Pass-1234")
    page = admin.get(hub.url + "hub/admin", params={"q": SQL}, allow_redirects=False)
    assert page.status_code == 200 and "0 user(s)" in page.text
    assert hub.api("GET", "users/stu", token=hub.admin_token).status_code == 200


def test_xss_payloads_are_escaped_wherever_shown(hub):
    stu = hub.login("stu", "Stu-Pass-12345")
    r = hub.post_form(stu, "hub/token/new", {"note": XSS})
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text
    assert "<img src=x" not in r.text
    admin = hub.login("admin", "Admin-Pass-1234")
    page = admin.get(hub.url + "hub/admin", params={"q": XSS}, allow_redirects=False)
    assert page.status_code == 200 and "<script>alert" not in page.text and "<img src=x" not in page.text
    r = hub.post_form(admin, "hub/admin/users/import", {"users": XSS + ",Pass-Word-123\n"})
    assert r.status_code == 400 and "<script>alert" not in r.text and "Nothing was imported" in r.text
    # The pasted text comes back in the box, escaped, so nothing typed is lost.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = admin.get(hub.url + "hub/admin", params={"done": "added", "name": XSS}, allow_redirects=False)
    assert "<script>alert" not in r.text
    r = admin.get(hub.url + "hub/nowhere/" + "%3Cscript%3E", allow_redirects=False)
    assert r.status_code == 404 and "<script>" not in r.text


def test_malformed_json_and_unknown_fields(hub):
    h = {"Content-Type": "application/json"}
    r = hub.api("POST", "users", token=hub.admin_token, data="{\"usernames\": [", headers=h)
    assert r.status_code == 400 and "malformed JSON" in r.json()["message"]
    r = hub.api("POST", "users", token=hub.admin_token, json={"usernames": ["zed"], "shoe_size": 42})
    assert r.status_code == 400 and "shoe_size" in r.json()["message"]
    r = hub.api("POST", "users", token=hub.admin_token, json=["not", "an", "object"])
    assert r.status_code == 400
    r = hub.api("POST", "users", token=hub.admin_token, json={"usernames": ["ok-one", 7]})
    assert r.status_code == 400
    assert hub.api("GET", "users/ok-one", token=hub.admin_token).status_code == 404
    r = hub.api("PATCH", "users/stu", token=hub.admin_token, json={"admin": "yes"})
    assert r.status_code == 400 and hub.api("GET", "users/stu", token=hub.admin_token).json()["admin"] is False


def raw_request(hub, data, read_limit=65536):
    with socket.create_connection(("127.0.0.1", hub.port), timeout=60) as s:
        s.sendall(data)
        chunks = b""
        while len(chunks) < read_limit:
            try:
                part = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                break
            if not part:
                break
            chunks += part
            if b"\r\n\r\n" in chunks:
                break
        return chunks


def test_oversized_header_gets_431(hub):
    reply = raw_request(hub, b"GET /hub/api HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 431")


def test_oversized_body_gets_413_before_it_is_read(hub):
    head = (b"POST /hub/api/users HTTP/1.1\r\nHost: x\r\nAuthorization: token " + hub.admin_token.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n")
    reply = raw_request(hub, head + b"{")
    assert reply.startswith(b"HTTP/1.1 413")


def test_garbage_request_gets_400_and_the_hub_lives_on(hub):
    reply = raw_request(hub, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400") or reply == b""
    reply = raw_request(hub, b"GET /hub/api HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    assert hub.api("GET", "").status_code == 200


def test_bulk_paste_with_one_bad_line_adds_nobody(hub):
    admin = hub.login("admin", "Admin-Pass-1234")
    text = "name,password,admin\nbulk-a,Bulk-Pass-111\nbulk b,Bulk-Pass-222\nbulk-c,,maybe\n"
    r = hub.post_form(admin, "hub/admin/users/import", {"users": text})
    assert r.status_code == 400
    assert "line 3" in r.text and "line 4" in r.text
    assert "bulk-a" not in hub.cli("user", "list").stdout
