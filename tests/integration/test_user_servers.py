"""User servers through the real hub: start, pending progress, the reverse
proxy (HTTP and kernel WebSockets), who may pass, large transfers with flat
hub memory, a hub killed with SIGKILL giving the same kernel back, the culler,
and system mode.  Real Jupyter from Debian (python3-jupyter-server,
python3-nbclassic, python3-ipykernel)."""
import base64
import hashlib
import json
import os
import pwd
import signal
import subprocess
import time

import pytest
import requests
import websocket

from hubproc import Hub
from jupyter_kernel import Kernel, http

START_TIMEOUT = 180  # seconds: Jupyter on a loaded 2-core machine


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def server_model(hub, token, name):
    r = hub.api("GET", f"users/{name}", token=token)
    assert r.status_code == 200, r.text
    return r.json()["servers"].get("")


def start_via_api(hub, token, name):
    r = hub.api("POST", f"users/{name}/server", token=token)
    assert r.status_code in (201, 202), (r.status_code, r.text)
    wait_until(lambda: (server_model(hub, token, name) or {}).get("ready"), START_TIMEOUT, f"{name}'s server")


def progress_events(hub, session, name, timeout=START_TIMEOUT):
    """Reads the progress stream to its end, as the pending page does."""
    r = session.get(hub.url + f"hub/api/users/{name}/server/progress",
                    params={"_xsrf": hub.xsrf(session)}, stream=True, timeout=timeout)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = []
    for line in r.iter_lines(decode_unicode=True):
        if line and line.startswith("data: "):
            events.append(json.loads(line[6:]))
            if events[-1].get("ready") or events[-1].get("failed"):
                break
    r.close()
    return events


def cookie_header(session):
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def hub_peak_rss_kb(hub):
    with open(f"/proc/{hub.proc.pid}/status") as f:
        fields = dict(l.split(":", 1) for l in f.read().splitlines())
    return int(fields["VmHWM"].split()[0]), int(fields["VmRSS"].split()[0])


def stop_leftovers(hub):
    """Servers outlive the hub by design: stop what a test left running."""
    if hub.proc is None or hub.proc.poll() is not None:
        hub.start()
    admin = hub.token("root-admin")
    for u in hub.api("GET", "users", token=admin).json():
        if u["servers"]:
            hub.api("DELETE", f"users/{u['name']}/server", token=admin)
    for u in hub.api("GET", "users", token=admin).json():
        wait_until(lambda: not server_model(hub, admin, u["name"]), 60, f"{u['name']}'s server to stop")
    hub.stop()


@pytest.fixture
def hub(tmp_path):
    h = Hub(tmp_path, config={"services": {"cull": {"enabled": False}}})
    h.add_user("root-admin", "Root-Admin-Pass-1", admin=True)
    h.start()
    yield h
    stop_leftovers(h)


def test_a_user_reaches_their_own_server_and_nobody_else_does(hub):
    hub.add_user("alice", "Alice-Pass-1234")
    hub.add_user("bob", "Bob-Pass-12345")
    alice = hub.login("alice", "Alice-Pass-1234")
    bob = hub.login("bob", "Bob-Pass-12345")

    # A browser opening its stopped server is sent to the pending page, which starts it.
    r = alice.get(hub.url + "user/alice/tree", allow_redirects=False, timeout=60)
    assert r.status_code == 302
    assert "/hub/spawn-pending/alice?next=" in r.headers["Location"]
    page = alice.get(hub.url + r.headers["Location"].lstrip("/"), allow_redirects=False, timeout=60)
    assert page.status_code in (200, 302)
    events = progress_events(hub, alice, "alice")
    assert events[-1]["ready"] is True and events[-1]["url"] == "/user/alice/"
    assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
    assert all("token" not in e["message"].lower() for e in events)
    # Ready: the pending page moves on by itself.
    r = alice.get(hub.url + "hub/spawn-pending/alice?next=/user/alice/tree", allow_redirects=False, timeout=60)
    assert r.status_code == 302 and r.headers["Location"] == "/user/alice/tree"

    # The server's own pages through the proxy, with the session cookie only.
    r = alice.get(hub.url + "user/alice/", allow_redirects=False, timeout=60)
    assert r.status_code == 302 and r.headers["Location"] in ("/user/alice/tree", "/user/alice/lab")
    r = alice.get(hub.url + "user/alice/tree", timeout=60)
    assert r.status_code == 200 and "Jupyter" in r.text
    xsrf_headers = {"X-XSRFToken": alice.cookies.get("_xsrf", path="/user/alice/") or ""}
    r = alice.put(hub.url + "user/alice/api/contents/answer.ipynb", json={"type": "notebook", "content": {
        "cells": [{"cell_type": "code", "source": "6*7", "metadata": {}, "outputs": [], "execution_count": None}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}, headers=xsrf_headers, timeout=60)
    assert r.status_code in (200, 201), r.text
    r = alice.get(hub.url + "user/alice/notebooks/answer.ipynb", timeout=60)
    assert r.status_code == 200 and "answer.ipynb" in r.text

    # 6*7 in a kernel over the proxied WebSocket, authenticated by the session cookie.
    same_origin = {"Cookie": cookie_header(alice), "Origin": hub.url.rstrip("/")}
    k = Kernel(hub.url + "user/alice/", same_origin)
    try:
        assert k.execute("6*7")["text"] == "42"
        # The server (and its kernels) know where the hub's API is, as
        # Jupyter's single-user extensions expect, and it answers there.
        env = json.loads(k.execute("import json, os\nprint(json.dumps({k: v for k, v in os.environ.items() "
                                   "if k.startswith('JUPYTERHUB_')}))")["text"])
        assert env["JUPYTERHUB_API_URL"] == hub.url + "hub/api"
        assert env["JUPYTERHUB_ACTIVITY_URL"] == hub.url + "hub/api/users/alice/activity"
        assert env["JUPYTERHUB_USER"] == "alice" and env["JUPYTERHUB_SERVICE_PREFIX"] == "/user/alice/"
        assert env["JUPYTERHUB_BASE_URL"] == "/" and env["JUPYTERHUB_API_TOKEN"]
        answer = k.execute("import os, urllib.request\n"
                           "print(urllib.request.urlopen(os.environ['JUPYTERHUB_API_URL']).read().decode())")
        assert "version" in json.loads(answer["text"]), answer
        # The server's own token speaks for alice in the hub's API (what
        # jupyterhub-singleuser does): who am I, and the activity report the
        # culler counts; never for anybody else.
        calls = k.execute(
            "import json, os, urllib.request, urllib.error\n"
            "api, tok = os.environ['JUPYTERHUB_API_URL'], os.environ['JUPYTERHUB_API_TOKEN']\n"
            "def call(method, path, body=None):\n"
            "    data = json.dumps(body).encode() if body is not None else None\n"
            "    req = urllib.request.Request(api + path, data=data, method=method,\n"
            "                                 headers={'Authorization': 'token ' + tok, 'Content-Type': 'application/json'})\n"
            "    try:\n"
            "        with urllib.request.urlopen(req) as r: return [r.status, r.read().decode()]\n"
            "    except urllib.error.HTTPError as e: return [e.code, e.read().decode()]\n"
            "stamp = {'servers': {'': {'last_activity': '2026-01-02T03:04:05.678Z'}}}\n"
            "print(json.dumps([call('GET', '/user'), call('POST', '/users/alice/activity', stamp),\n"
            "                  call('POST', '/users/bob/activity', stamp), call('GET', '/users'),\n"
            "                  call('POST', '/users/alice/activity', {'last_activity': 'yesterday'})]))")
        me, mine, bobs, listing, bad = json.loads(calls["text"])
        assert me[0] == 200 and json.loads(me[1])["name"] == "alice" and json.loads(me[1])["admin"] is False, me
        assert mine[0] == 204, mine
        assert bobs[0] == 403, bobs
        assert listing[0] == 200 and [u["name"] for u in json.loads(listing[1])] == ["alice"], listing
        assert bad[0] == 400 and "ISO 8601" in json.loads(bad[1])["message"], bad
    finally:
        k.close()

    # Someone else: 403, for pages, the API and WebSockets alike.
    assert bob.get(hub.url + "user/alice/tree", allow_redirects=False, timeout=60).status_code == 403
    r = bob.get(hub.url + "user/alice/api/contents", timeout=60)
    assert r.status_code == 403 and r.json()["status"] == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        Kernel(hub.url + "user/alice/", {"Cookie": cookie_header(bob)}, kernel_id=k.id)
    assert e.value.status_code == 403
    # A page on another site cannot use alice's cookie to reach her kernels.
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        Kernel(hub.url + "user/alice/", {"Cookie": cookie_header(alice), "Origin": "http://evil.example"},
               kernel_id=k.id)
    assert e.value.status_code == 403
    # Nobody logged in: the browser goes to the login page, an API client gets 401 JSON.
    r = requests.get(hub.url + "user/alice/tree", allow_redirects=False, timeout=60)
    assert r.status_code == 302 and r.headers["Location"] == "/hub/login?next=%2Fuser%2Falice%2Ftree"
    r = requests.get(hub.url + "user/alice/api/status", timeout=60)
    assert r.status_code == 401 and r.json()["status"] == 401
    # A hub token works for API clients; it is swapped for the server's own token.
    token = hub.token("alice")
    r = requests.get(hub.url + "user/alice/api/status", headers={"Authorization": f"token {token}"}, timeout=60)
    assert r.status_code == 200 and "started" in r.json()
    r = requests.get(hub.url + f"user/alice/api/status?token={token}", timeout=60)
    assert r.status_code == 200

    # /hub/user-redirect/ sends each user to their own server.
    r = bob.get(hub.url + "hub/user-redirect/tree/x?y=1", allow_redirects=False, timeout=60)
    assert r.status_code == 302 and r.headers["Location"] == "/user/bob/tree/x?y=1"

    # Activity through the proxy is recorded (the proxy passes it on at most
    # once a second per server).
    before = server_model(hub, token, "alice")["last_activity"]

    def active_again():
        assert alice.get(hub.url + "user/alice/api/contents", timeout=60).status_code == 200
        return server_model(hub, token, "alice")["last_activity"] > before
    wait_until(active_again, 30, "activity through the proxy to be recorded")

    # 100 MB up and down through the proxy; the hub does not hold them.
    home = hub.prefix / "home" / "alice"
    peak_before, _ = hub_peak_rss_kb(hub)
    payload = os.urandom(100 * 1024 * 1024)
    r = alice.put(hub.url + "user/alice/api/contents/up.bin", headers=xsrf_headers, timeout=600,
                  data=json.dumps({"type": "file", "format": "base64",
                                   "content": base64.b64encode(payload).decode()}))
    assert r.status_code in (200, 201), r.text[:500]
    assert (home / "up.bin").stat().st_size == len(payload)
    assert hashlib.sha256((home / "up.bin").read_bytes()).hexdigest() == hashlib.sha256(payload).hexdigest()
    r = alice.get(hub.url + "user/alice/files/up.bin", stream=True, timeout=600)
    assert r.status_code == 200
    digest, size = hashlib.sha256(), 0
    for chunk in r.iter_content(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    assert size == len(payload) and digest.hexdigest() == hashlib.sha256(payload).hexdigest()
    peak_after, _ = hub_peak_rss_kb(hub)
    assert peak_after - peak_before < 32 * 1024, (peak_before, peak_after)

    # Stop through the API: 204 (or 202, then gone).
    r = hub.api("DELETE", "users/alice/server", token=token)
    assert r.status_code in (202, 204)
    wait_until(lambda: not server_model(hub, token, "alice"), 60, "alice's server to stop")
    r = requests.get(hub.url + "user/alice/api/status", headers={"Authorization": f"token {token}"}, timeout=60)
    assert r.status_code == 503


def test_a_hub_killed_with_sigkill_gives_the_same_kernel_back(hub):
    hub.add_user("carol", "Carol-Pass-1234")
    token = hub.token("carol")
    start_via_api(hub, token, "carol")
    headers = {"Authorization": f"token {token}"}
    k = Kernel(hub.url + "user/carol/", headers)
    assert k.execute("x = 41")["status"] == "ok"
    k.close()
    status, before = http("GET", hub.url + "user/carol/api/status", headers)
    assert status == 200

    hub.kill()
    hub.start()
    wait_until(lambda: (server_model(hub, token, "carol") or {}).get("ready"), 60, "adoption")
    k = Kernel(hub.url + "user/carol/", headers, kernel_id=k.id)
    try:
        assert k.execute("x + 1")["text"] == "42"
    finally:
        k.close()
    status, after = http("GET", hub.url + "user/carol/api/status", headers)
    assert status == 200 and after["started"] == before["started"]
    assert "adopted 1" in hub.log()


def test_the_culler_stops_an_idle_server_and_leaves_an_active_one(tmp_path):
    h = Hub(tmp_path, config={"services": {"cull": {"enabled": True, "timeout": 6, "every": 1}}})
    h.add_user("root-admin", "Root-Admin-Pass-1", admin=True)
    h.start()
    try:
        for name in ("idle", "busy"):
            h.add_user(name, f"{name.capitalize()}-Pass-1234")
        admin = h.token("root-admin")
        busy = h.token("busy")
        for name in ("idle", "busy"):
            r = h.api("POST", f"users/{name}/server", token=admin)
            assert r.status_code in (201, 202)
        for name in ("idle", "busy"):
            wait_until(lambda: (server_model(h, admin, name) or {}).get("ready"), START_TIMEOUT, name)

        def idle_culled():
            # The busy user keeps working through the proxy meanwhile.
            r = requests.get(h.url + "user/busy/api/contents", headers={"Authorization": f"token {busy}"}, timeout=60)
            assert r.status_code == 200
            return not server_model(h, admin, "idle")

        wait_until(idle_culled, 120, "the idle server to be culled")
        assert server_model(h, admin, "busy")["ready"]
        assert "culler: stopping the server of idle" in h.log()
        assert "culler: stopping the server of busy" not in h.log()
    finally:
        stop_leftovers(h)


@pytest.mark.skipif(os.geteuid() != 0, reason="system mode needs root")
def test_system_mode_serves_each_user_as_their_own_unix_account(tmp_path):
    name = "zzsptest-hub"
    account = "jupyter-" + name
    subprocess.run(["userdel", "--remove", account], capture_output=True)
    groups_before = {g for g in ("jupyterhub-users", "jupyterhub-admins")
                     if subprocess.run(["getent", "group", g], capture_output=True).returncode == 0}
    h = Hub(tmp_path, config={"spawner": {"mode": "system"}, "services": {"cull": {"enabled": False}}})
    h.add_user("root-admin", "Root-Admin-Pass-1", admin=True)
    h.add_user(name, "Hub-Test-Pass-1")
    h.start()
    try:
        token = h.token(name)
        start_via_api(h, token, name)
        pw = pwd.getpwnam(account)
        k = Kernel(h.url + f"user/{name}/", {"Authorization": f"token {token}"})
        try:
            assert k.execute("import os; print(os.getuid(), os.path.expanduser('~'))")["text"].split() == [
                str(pw.pw_uid), f"/home/{account}"]
        finally:
            k.close()
        assert os.stat(pw.pw_dir).st_mode & 0o007 == 0
        admin = h.token("root-admin")
        r = h.api("GET", "spawner", token=admin)
        assert r.status_code == 200 and r.json()["mode"] == "system"
        assert r.json()["limits"]["mechanism"] in ("cgroup2", "cgroup1", "rlimit", "none")
        assert h.api("GET", "spawner", token=token).status_code == 403
        r = h.api("GET", f"users/{name}/server/log", token=admin)
        assert r.status_code == 200 and "Jupyter Server" in r.json()["log"]
    finally:
        stop_leftovers(h)
        subprocess.run(["userdel", "--remove", account], capture_output=True)
        for g in ("jupyterhub-users", "jupyterhub-admins"):
            if g not in groups_before:
                subprocess.run(["groupdel", g], capture_output=True)
