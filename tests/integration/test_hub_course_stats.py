"""Per-course pull statistics and a student's synced folders, after real
syncs through the hub's git-pull event stream from a real smart-HTTP git
server: who synced which commit and when, who is on an older commit,
failures with their codes; "sync now" links; and a stored credential that
the server rejects shows up as an alert for admins while the student is
told only that the course's access is broken."""

import pytest

from course_support import by_id, link_params, make_course_repo
from githttp import GitHttpServer
from gitpull_support import sync
from hubproc import Hub
from pull_support import git

PW = "Student-Pass-77"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    teacher = make_course_repo(root / "teacher")
    with GitHttpServer(root / "git", password="pr1vate-Tok3n-5150") as srv:
        url = srv.add_repo("stats", teacher.work)
        priv = srv.add_repo("locked", teacher.work, private=True)
        git(teacher.work, "remote", "set-url", "origin", str(srv.repo_path("stats")))
        config = {"gitpuller": {"allowed_sources": [srv.base_url + "/"]}}
        with Hub(root / "hub", config=config) as hub:
            hub.add_user("admin", "Admin-Pass-2024", admin=True)
            hub.add_user("ines", "Teach-Pass-2024")
            hub.cli("user", "instructor", "ines", "on")
            for name in ("alice", "bob", "carol", "dan"):
                hub.add_user(name, PW)
            yield {"hub": hub, "srv": srv, "url": url, "priv": priv, "teacher": teacher}


def test_stats_show_who_synced_which_commit_and_who_is_behind(env):
    hub, url, teacher = env["hub"], env["url"], env["teacher"]
    ines = hub.login("ines", "Teach-Pass-2024")
    r = hub.api("POST", "courses", session=ines, json={"repo": url, "title": "Stats 101"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    first = git(teacher.work, "rev-parse", "main").strip()

    students = {n: hub.login(n, PW) for n in ("alice", "bob", "carol")}
    assert sync(hub, students["alice"], "alice", repo=url)[-1]["phase"] == "finished"
    assert sync(hub, students["bob"], "bob", repo=url)[-1]["phase"] == "finished"
    failed = sync(hub, students["carol"], "carol", repo=url, branch="no-such-branch")[-1]
    assert failed["phase"] == "error" and failed["error"]["code"] == "branch_exist"

    # The teacher publishes; only alice syncs again.
    teacher.write("week4/new.ipynb", "{}\n")
    second = teacher.commit("week 4")
    assert second != first
    assert sync(hub, students["alice"], "alice", repo=url)[-1]["phase"] == "finished"

    stats = hub.api("GET", f"courses/{cid}/stats", session=ines).json()
    assert stats["tips"]["main"] == second
    by_user = {s["user"]: s for s in stats["students"]}
    assert set(by_user) == {"alice", "bob", "carol"}
    assert by_user["alice"]["commit"] == second and by_user["alice"]["up_to_date"] is True
    assert by_user["alice"]["state"] == "latest" and by_user["alice"]["folder"] == "stats"
    assert by_user["alice"]["branch"] == "main" and by_user["alice"]["synced_at"]
    assert by_user["bob"]["commit"] == first and by_user["bob"]["up_to_date"] is False
    assert by_user["bob"]["state"] == "behind"
    assert by_user["carol"]["commit"] is None and by_user["carol"]["state"] == "never"
    assert by_user["carol"]["error_code"] == "branch_exist"
    assert stats["summary"] == {"students": 3, "folders": 3, "up_to_date": 1, "behind": 1, "never_synced": 1,
                                "failing": 1, "syncing": 0}
    assert [f["code"] for f in stats["failures"]] == ["branch_exist"]
    assert stats["failures"][0]["user"] == "carol" and stats["failures"][0]["message"]
    assert stats["failure_counts_7d"] == {"branch_exist": 1}

    page = ines.get(hub.url + f"hub/courses/{cid}", timeout=120).text
    table = by_id(page, "students")
    assert 'data-user="alice" data-folder="stats" data-state="latest"' in table
    assert 'data-user="bob" data-folder="stats" data-state="behind"' in table
    assert second[:10] in table and first[:10] in table
    assert "1 on an older commit" in by_id(page, "n-behind")
    assert "branch_exist × 1" in by_id(page, "failure-codes")
    assert 'data-code="branch_exist"' in by_id(page, "failures")

    # Students cannot see the stats.
    assert hub.api("GET", f"courses/{cid}/stats", session=students["bob"]).status_code == 403

    # Bob catches up.
    assert sync(hub, students["bob"], "bob", repo=url)[-1]["phase"] == "finished"
    stats = hub.api("GET", f"courses/{cid}/stats", session=ines).json()
    assert stats["summary"]["up_to_date"] == 2 and stats["summary"]["behind"] == 0


def test_a_students_home_lists_their_folders_with_sync_now(env):
    hub, url = env["hub"], env["url"]
    dan = hub.login("dan", PW)
    assert 'id="no-synced"' in dan.get(hub.url + "hub/home", timeout=60).text
    assert sync(hub, dan, "dan", repo=url, branch="week3", targetpath="classes/week3")[-1]["phase"] == "finished"
    failed = sync(hub, dan, "dan", repo=url, branch="gone", targetpath="broken")[-1]
    assert failed["phase"] == "error"
    page = dan.get(hub.url + "hub/home", timeout=60).text
    table = by_id(page, "synced")
    week3 = git(env["teacher"].work, "rev-parse", "week3").strip()
    assert 'data-folder="classes/week3"' in table and week3[:10] in table
    assert "Stats 101" in table or url in table
    assert 'data-folder="broken"' in table and "last sync failed" in table
    # "Sync now" is a git-pull link for that very folder and branch.
    import html as _html
    import re
    links = [_html.unescape(h) for h in re.findall(r'<a class="button small sync-now" href="([^"]+)"', table)]
    week3_link = [l for l in links if "classes%2Fweek3" in l][0]
    assert link_params(week3_link) == {"repo": url, "branch": "week3", "targetpath": "classes/week3",
                                       "urlpath": "lab/tree/classes/week3"}
    r = dan.get(hub.url + week3_link.lstrip("/"), allow_redirects=False, timeout=60)
    assert r.status_code == 302 and r.headers["Location"].startswith("/user/dan/git-pull?")
    # Nobody else's folders.
    alice = hub.login("alice", PW).get(hub.url + "hub/home", timeout=60).text
    assert "classes/week3" not in alice and 'data-folder="stats"' in by_id(alice, "synced")


def test_a_rejected_credential_alerts_admins_and_tells_students_only_that_access_is_broken(env):
    hub, srv, priv = env["hub"], env["srv"], env["priv"]
    admin = hub.token("admin")
    prefix = srv.base_url + "/private/"
    r = hub.api("POST", "credentials", token=admin,
                json={"prefix": prefix, "username": srv.username, "secret": srv.password})
    assert r.status_code == 201
    cid = r.json()["id"]
    alice = hub.login("alice", PW)
    assert sync(hub, alice, "alice", repo=priv)[-1]["phase"] == "finished"
    assert hub.api("GET", f"credentials/{cid}", token=admin).json()["status"] == "ok"

    # The token is revoked upstream (here: rotated to a wrong one).
    hub.api("PATCH", f"credentials/{cid}", token=admin, json={"secret": "revoked-upstream-0000"})
    events = sync(hub, alice, "alice", repo=priv)
    last = events[-1]
    assert last["phase"] == "error" and last["error"]["code"] == "auth"
    assert "tell your instructor" in last["error"]["message"].lower()
    for e in events:
        text = str(e)
        assert srv.password not in text and "revoked-upstream-0000" not in text
    got = hub.api("GET", f"credentials/{cid}", token=admin).json()
    assert got["status"] == "rejected"
    admin_page = hub.login("admin", "Admin-Pass-2024").get(hub.url + "hub/admin", timeout=60).text
    assert prefix in by_id(admin_page, "credential-alerts")
    # The admin page also shows each repository's cache: downloads and state.
    mirrors = by_id(admin_page, "mirrors")
    assert f'data-repo="{env["url"]}"' in mirrors and "Stats 101" in mirrors
    assert f'data-repo="{priv}"' in mirrors
    home = alice.get(hub.url + "hub/home", timeout=60).text
    assert 'id="credential-alerts"' not in home and "revoked-upstream-0000" not in home
    # The instructor's course page names the broken credential too, without the secret.
    ines = hub.login("ines", "Teach-Pass-2024")
    r = hub.api("POST", "courses", session=ines, json={"repo": priv, "title": "Locked"})
    assert r.status_code == 201, r.text
    page = ines.get(hub.url + f"hub/courses/{r.json()['id']}", timeout=120).text
    alert = by_id(page, "credential-alert")
    assert prefix in alert and "rejected by the server" in alert and "Ask an admin" in alert
    assert "revoked-upstream-0000" not in page and srv.password not in page
    # Once an admin puts the right token back, the alert is gone after the next good sync.
    hub.api("PATCH", f"credentials/{cid}", token=admin, json={"secret": srv.password})
    assert sync(hub, alice, "alice", repo=priv)[-1]["phase"] == "finished"
    page = ines.get(hub.url + f"hub/courses/{r.json()['id']}", timeout=120).text
    assert 'id="credential-alert"' not in page
