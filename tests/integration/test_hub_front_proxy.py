"""The hub behind a front proxy (nginx, examples/nginx/coursehub.conf):
X-Forwarded-For / -Proto are believed only from http.trusted_proxies."""
import re

from hubproc import Hub

PW = "Front-Proxy-Pass-1"


def login_via_proxy(hub, client_addr, proto="https"):
    """Signs ana in as a browser behind nginx would.  The cookies are passed by
    hand: under X-Forwarded-Proto https they are Secure, and this plain-HTTP
    client would otherwise (rightly) keep them to itself."""
    import requests
    headers = {"X-Forwarded-For": f"198.51.100.77, {client_addr}", "X-Forwarded-Proto": proto}
    page = requests.get(hub.url + "hub/login", headers=headers, allow_redirects=False, timeout=30)
    xsrf = page.cookies.get("_xsrf") or re.search(r"_xsrf=([^;]+)", page.headers["Set-Cookie"]).group(1)
    r = requests.post(hub.url + "hub/login", data={"username": "ana", "password": PW, "_xsrf": xsrf},
                      headers={**headers, "Cookie": f"_xsrf={xsrf}"}, allow_redirects=False, timeout=60)
    assert r.status_code == 302, r.text[:500]
    return r


def session_cookie(response):
    cookies = [v for k, v in response.raw.headers.items() if k.lower() == "set-cookie"]
    found = [c for c in cookies if c.startswith("coursehub-session=")]
    assert found, cookies
    return found[0]


def test_forwarded_headers_from_a_trusted_proxy_name_the_real_client(tmp_path):
    hub = Hub(tmp_path, config={"http": {"trusted_proxies": ["127.0.0.1", "::1"]}})
    hub.add_user("ana", PW)
    with hub:
        r = login_via_proxy(hub, "203.0.113.9")
        # Served over HTTPS by the proxy: the session cookie must be Secure.
        assert "Secure" in session_cookie(r)
        # The request log names the client nginx saw, not nginx itself.
        hub.wait_for_log("302 POST /hub/login")
        line = [l for l in hub.log().splitlines() if "302 POST /hub/login" in l][-1]
        assert "203.0.113.9" in line and "127.0.0.1" not in line and "198.51.100.77" not in line


def test_forwarded_headers_from_anyone_else_are_ignored(tmp_path):
    hub = Hub(tmp_path)  # no trusted proxies: a client cannot claim another address
    hub.add_user("ana", PW)
    with hub:
        r = login_via_proxy(hub, "203.0.113.9")
        assert "Secure" not in session_cookie(r)
        hub.wait_for_log("302 POST /hub/login")
        line = [l for l in hub.log().splitlines() if "302 POST /hub/login" in l][-1]
        assert "203.0.113.9" not in line and re.search(r"@127\.0\.0\.1\)", line), line


def test_trusted_proxies_must_be_addresses(tmp_path):
    hub = Hub(tmp_path)
    r = hub.cli("config", "add-item", "http.trusted_proxies", "nginx.local", check=False)
    assert r.returncode != 0
    assert "http.trusted_proxies" in r.stderr and "not an IP address" in r.stderr
