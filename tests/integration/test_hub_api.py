"""The JupyterHub-compatible REST API, against the real hub."""
import pytest

from hubproc import Hub

PAGINATION = "application/jupyterhub-pagination+json"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp("api"))
    h.start()
    h.add_user("root-admin", "Root-Admin-Pass1", admin=True)
    h.admin_token = h.token("root-admin")
    yield h
    h.stop()


def test_readiness_needs_no_auth_and_everything_else_does(hub):
    assert hub.api("GET", "").json()["version"]
    r = hub.api("GET", "users")
    assert r.status_code == 401
    assert r.json() == {"status": 401, "message": r.json()["message"]}
    assert hub.api("GET", "users", token="not-a-token").status_code == 401
    assert hub.api("GET", "info", token=hub.admin_token).json()["authenticator"]["class"] == "native"


def test_user_model_has_jupyterhub_fields(hub):
    r = hub.api("POST", "users/model-user", token=hub.admin_token, json={"admin": False})
    assert r.status_code == 201
    m = r.json()
    for field in ("kind", "name", "admin", "roles", "groups", "server", "pending", "created", "last_activity", "servers"):
        assert field in m, field
    assert m["kind"] == "user" and m["name"] == "model-user" and m["roles"] == ["user"]
    assert m["created"].endswith("Z") and m["servers"] == {}
    assert hub.api("POST", "users/model-user", token=hub.admin_token).status_code == 409
    assert hub.api("GET", "users/nobody-here", token=hub.admin_token).status_code == 404


def test_a_user_token_sees_and_changes_only_its_owner(hub):
    for name in ("ann", "ben"):
        hub.api("POST", f"users/{name}", token=hub.admin_token, json={"password": f"{name.title()}-Pass-1234"})
    ann = hub.token("ann")
    me = hub.api("GET", "user", token=ann).json()
    assert me["name"] == "ann" and me["admin"] is False
    assert hub.api("GET", "users/ann", token=ann).status_code == 200
    assert hub.api("GET", "users/ben", token=ann).status_code == 403
    assert hub.api("PATCH", "users/ben", token=ann, json={"password": "Stolen-Pass-99"}).status_code == 403
    assert hub.api("PATCH", "users/ann", token=ann, json={"admin": True}).status_code == 403
    assert hub.api("DELETE", "users/ben", token=ann).status_code == 403
    assert hub.api("POST", "users/carl", token=ann).status_code == 403
    assert hub.api("GET", "users/ben/tokens", token=ann).status_code == 403
    assert hub.api("POST", "users/ben/tokens", token=ann, json={}).status_code == 403
    listed = hub.api("GET", "users", token=ann).json()
    assert [u["name"] for u in listed] == ["ann"]
    # ben's password still works: nothing changed.
    hub.login("ben", "Ben-Pass-1234")
    # ann can change her own password.
    assert hub.api("PATCH", "users/ann", token=ann, json={"password": "Ann-Newer-5678"}).status_code == 200
    hub.login("ann", "Ann-Newer-5678")


def test_tokens_are_created_listed_and_revoked(hub):
    hub.api("POST", "users/tess", token=hub.admin_token)
    own = hub.token("tess")
    r = hub.api("POST", "users/tess/tokens", token=own, json={"note": "laptop", "expires_in": 3600})
    assert r.status_code == 201
    t = r.json()
    assert t["kind"] == "api_token" and t["note"] == "laptop" and t["id"].startswith("a") and t["expires_at"]
    secret = t["token"]
    assert hub.api("GET", "user", token=secret).json()["name"] == "tess"
    listed = hub.api("GET", "users/tess/tokens", token=own).json()["api_tokens"]
    assert {x["note"] for x in listed} >= {"laptop"}
    assert all("token" not in x for x in listed)
    assert hub.api("GET", f"users/tess/tokens/{t['id']}", token=own).json()["note"] == "laptop"
    assert hub.api("DELETE", f"users/tess/tokens/{t['id']}", token=own).status_code == 204
    assert hub.api("GET", "user", token=secret).status_code == 401
    assert hub.api("GET", f"users/tess/tokens/{t['id']}", token=own).status_code == 404
    # Only the hash is stored.
    db = (hub.prefix / "state" / "hub.sqlite").read_bytes()
    assert secret.encode() not in db and own.encode() not in db
    assert hub.api("POST", "users/tess/tokens", token=own, json={"scopes": ["admin:users"]}).status_code == 400
    assert hub.api("POST", "users/tess/tokens", token=own, json={"expires_in": "soon"}).status_code == 400


def test_listing_paginates_and_filters(hub):
    names = [f"page-{i:03d}" for i in range(210)]
    r = hub.api("POST", "users", token=hub.admin_token, json={"usernames": names})
    assert r.status_code == 201 and len(r.json()) == 210
    assert hub.api("POST", "users", token=hub.admin_token, json={"usernames": names[:3]}).status_code == 409
    r = hub.api("GET", "users?offset=5&limit=10", token=hub.admin_token, headers={"Accept": PAGINATION})
    body = r.json()
    assert r.headers["Content-Type"].startswith(PAGINATION)
    assert len(body["items"]) == 10
    p = body["_pagination"]
    assert p["offset"] == 5 and p["limit"] == 10 and p["total"] >= 211 and p["next"]["offset"] == 15
    plain = hub.api("GET", "users?limit=1000", token=hub.admin_token).json()
    assert isinstance(plain, list) and len(plain) == 200  # JupyterHub's maximum page
    inactive = hub.api("GET", "users?state=inactive&limit=200", token=hub.admin_token).json()
    assert len(inactive) == 200
    # JupyterHub's defaults: 200 without the envelope, 50 with it.
    assert len(hub.api("GET", "users", token=hub.admin_token).json()) == 200
    paged = hub.api("GET", "users", token=hub.admin_token, headers={"Accept": PAGINATION}).json()
    assert len(paged["items"]) == 50 and paged["_pagination"]["next"]["offset"] == 50
    assert hub.api("GET", "users?state=ready", token=hub.admin_token).json() == []
    assert hub.api("GET", "users?state=bogus", token=hub.admin_token).status_code == 400
    assert hub.api("GET", "users?offset=-1", token=hub.admin_token).status_code == 400


def test_admin_changes_and_deletes_users(hub):
    hub.api("POST", "users/dora", token=hub.admin_token, json={"password": "Dora-Pass-1234"})
    r = hub.api("PATCH", "users/dora", token=hub.admin_token, json={"admin": True, "instructor": True})
    assert r.status_code == 200 and r.json()["admin"] and "instructor" in r.json()["roles"]
    assert hub.api("PATCH", "users/dora", token=hub.admin_token, json={"colour": "blue"}).status_code == 400
    assert hub.api("PATCH", "users/dora", token=hub.admin_token, json={"name": "dorothy"}).status_code == 400
    assert hub.api("PATCH", "users/dora", token=hub.admin_token, json={"password": "x"}).status_code == 400
    assert hub.api("PATCH", "users/dora", token=hub.admin_token, data="{not json",
                   headers={"Content-Type": "application/json"}).status_code == 400
    dora = hub.token("dora")
    assert hub.api("DELETE", "users/root-admin", token=hub.admin_token).status_code == 400
    assert hub.api("DELETE", "users/dora", token=hub.admin_token).status_code == 204
    assert hub.api("GET", "users/dora", token=hub.admin_token).status_code == 404
    assert hub.api("GET", "user", token=dora).status_code == 401
    assert hub.api("DELETE", "users/dora", token=hub.admin_token).status_code == 404
