"""HTTPS with a certificate from the config, the plain-HTTP redirect, and a
kernel's WebSocket relayed to a TLS client."""
import re
import subprocess
import time

import requests

from hubproc import Hub
from jupyter_kernel import Kernel


def make_cert(tmp_path):
    """A throw-away CA and a certificate for localhost signed by it."""
    ca_key, ca, key, csr, cert = (tmp_path / n for n in ("ca.key", "ca.pem", "key.pem", "req.csr", "cert.pem"))
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=coursehub test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(cert),
        "-days", "2", "-extfile", str(ext))
    return ca, cert, key


def test_https_serves_with_secure_cookies_and_http_redirects(tmp_path):
    ca, cert, key = make_cert(tmp_path)
    config = {"https": {"enabled": True, "port": 0, "tls": {"cert": str(cert), "key": str(key)}}}
    hub = Hub(tmp_path, config=config)
    hub.add_user("sec", "Secure-Pass-123")
    with hub:
        assert hub.url.startswith("https://127.0.0.1:")
        base = hub.url.replace("127.0.0.1", "localhost")
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE would replace our CA
        s.verify = str(ca)   # a real chain check against our test CA
        assert s.get(base + "hub/api", timeout=30).json()["version"]
        page = s.get(base + "hub/login", timeout=30)
        assert "Secure" in page.headers["Set-Cookie"]
        xsrf = s.cookies.get("_xsrf")
        r = s.post(base + "hub/login", data={"username": "sec", "password": "Secure-Pass-123", "_xsrf": xsrf},
                   allow_redirects=False, timeout=30)
        assert r.status_code == 302
        session_cookie = [c for c in r.headers["Set-Cookie"].split(", ") if "coursehub-session" in c][0]
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie
        assert s.get(base + "hub/home", allow_redirects=False, timeout=30).status_code == 200

        http_port = int(re.search(r"redirecting http://[^:]+:(\d+)/ to HTTPS", hub.log()).group(1))
        r = requests.get(f"http://127.0.0.1:{http_port}/hub/login?next=%2Fhub%2Fhome", allow_redirects=False, timeout=30)
        assert r.status_code == 301
        assert r.headers["Location"] == f"https://127.0.0.1:{hub.port}/hub/login?next=%2Fhub%2Fhome"


def test_https_without_a_readable_certificate_fails_clearly(tmp_path):
    config = {"https": {"enabled": True, "port": 0, "tls": {"cert": str(tmp_path / "none.pem"), "key": str(tmp_path / "none.key")}}}
    hub = Hub(tmp_path, config=config)
    r = hub.cli("serve", "--ip", "127.0.0.1", "--port", "0", check=False)
    assert r.returncode == 1 and "cannot load the TLS certificate" in r.stderr


def test_a_kernel_answers_over_wss_through_the_hub(tmp_path):
    """The relay's TLS path: a real kernel, reached over wss:// through the hub, computes 6*7."""
    ca, cert, key = make_cert(tmp_path)
    config = {"https": {"enabled": True, "port": 0, "tls": {"cert": str(cert), "key": str(key)}},
              "services": {"cull": {"enabled": False}}}
    hub = Hub(tmp_path, config=config)
    hub.add_user("sec", "Secure-Pass-123")
    with hub:
        base = hub.url.replace("127.0.0.1", "localhost")
        token = hub.token("sec")
        s = requests.Session()
        s.trust_env = False
        s.verify = str(ca)
        s.headers["Authorization"] = f"token {token}"

        def server():
            return s.get(base + "hub/api/users/sec", timeout=60).json()["servers"].get("")
        try:
            r = s.post(base + "hub/api/users/sec/server", timeout=60)
            assert r.status_code in (201, 202), r.text
            deadline = time.monotonic() + 180  # Jupyter on a loaded 2-core machine
            while not (server() or {}).get("ready"):
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
            k = Kernel(base + "user/sec/", {"Authorization": f"token {token}"}, ca_file=str(ca))
            try:
                assert k.execute("6*7")["text"] == "42"
                assert k.execute("print('x' * 100000)")["text"] == "x" * 100000 + "\n"
            finally:
                k.close()
        finally:
            # User servers outlive the hub by design: stop this one first.
            s.delete(base + "hub/api/users/sec/server", timeout=60)
            deadline = time.monotonic() + 60
            while server() and time.monotonic() < deadline:
                time.sleep(0.2)
