"""Helpers for the git-pull journey tests: a hub that allows the loopback git
server, logged-in students, and a Server-Sent Events reader."""

from __future__ import annotations

import json
import sqlite3
import urllib.parse

import requests


def hub_config(git_base_url: str, extra: dict | None = None) -> dict:
    """Config letting links name the fixture's loopback git server."""
    cfg = {
        "auth": {"type": "firstuse", "firstuse": {"create_users": True}},
        "gitpuller": {"allowed_sources": [git_base_url.rstrip("/") + "/"]},
    }
    for k, v in (extra or {}).items():
        cfg[k] = v
    return cfg


def link_query(**params) -> str:
    return urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})


def events(hub, session, name: str, query: str, xsrf: bool = True, timeout: float = 300):
    """Opens …/git-pull/api?query as EventSource would and yields each event's JSON."""
    url = f"{hub.url}user/{name}/git-pull/api?{query}"
    if xsrf:
        url += "&_xsrf=" + urllib.parse.quote(hub.xsrf(session), safe="")
    r = session.get(url, stream=True, timeout=timeout, headers={"Accept": "text/event-stream"})
    return r


def read_events(response) -> list[dict]:
    out = []
    for raw in response.iter_lines(decode_unicode=True):
        if raw is None or not raw.startswith("data: "):
            continue
        out.append(json.loads(raw[6:]))
    return out


def sync(hub, session, name: str, **params) -> list[dict]:
    r = events(hub, session, name, link_query(**params))
    assert r.status_code == 200, r.text
    evs = read_events(r)
    assert evs and evs[-1]["phase"] in ("finished", "error"), evs
    return evs


def pulls(hub) -> list[dict]:
    db = sqlite3.connect(str(hub.prefix / "state" / "hub.sqlite"), timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM pulls ORDER BY id")]
    finally:
        db.close()


def student(hub, name: str, password: str = "Student-Pass-1") -> requests.Session:
    """A logged-in browser-like session (firstuse: the first login creates the user)."""
    return hub.login(name, password)


def stop_servers(hub, timeout: float = 120) -> None:
    """The progress page starts each student's server, and servers outlive the
    hub by design: stop every one a test started (the hub must be running)."""
    import time

    hub.add_user("zz-gitpull-admin", "Gitpull-Admin-Pass-1", admin=True)
    admin = hub.token("zz-gitpull-admin")
    names = [u["name"] for u in hub.api("GET", "users?limit=200", token=admin).json() if u["servers"]]
    for name in names:
        hub.api("DELETE", f"users/{name}/server", token=admin)
    deadline = time.monotonic() + timeout
    for name in names:
        while time.monotonic() < deadline:
            if not hub.api("GET", f"users/{name}", token=admin).json()["servers"]:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"{name}'s server did not stop within {timeout}s")
