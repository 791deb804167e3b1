"""Instructors register course repositories and make git-pull links, against
the real hub and a real smart-HTTP git server on 127.0.0.1: the instructor
role (admin page, API, CLI), course registration, the link generator
(branches and files come from the repository itself; links parse back to
the chosen parameters; the QR code decodes to the link), warming the cache,
and XSS through every name shown back."""

import html
import re

import pytest

from course_support import (XSS_BRANCH, XSS_FILE, by_id, decode_qr_png, input_value, link_params,
                            make_course_repo, options, selected)
from githttp import GitHttpServer
from hubproc import Hub
from pull_support import git

ADMIN_PW = "Admin-Pass-2024"
INSTRUCTOR_PW = "Teach-Pass-2024"
STUDENT_PW = "Student-Pass-77"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("courses")
    teacher = make_course_repo(root / "teacher", xss_names=True)
    with GitHttpServer(root / "git") as srv:
        url = srv.add_repo("course", teacher.work)
        with Hub(root / "hub", config={"gitpuller": {"allowed_sources": [srv.base_url + "/"]}}) as hub:
            hub.add_user("admin", ADMIN_PW, admin=True)
            hub.add_user("ines", INSTRUCTOR_PW)
            hub.add_user("sam", STUDENT_PW)
            hub.cli("user", "instructor", "ines", "on")
            yield {"hub": hub, "srv": srv, "url": url, "teacher": teacher,
                   "admin": hub.login("admin", ADMIN_PW), "ines": hub.login("ines", INSTRUCTOR_PW),
                   "sam": hub.login("sam", STUDENT_PW)}


def register(env, session, **fields):
    hub = env["hub"]
    r = hub.post_form(session, "hub/courses/new", fields)
    return r


def course_id_from(response):
    assert response.status_code == 303, response.text[:2000]
    m = re.search(r"/hub/courses/(\d+)\?done=created$", response.headers["Location"])
    assert m, response.headers["Location"]
    return int(m.group(1))


def test_students_get_403_on_every_instructor_page_and_api(env):
    hub, sam = env["hub"], env["sam"]
    for path in ("hub/courses", "hub/courses/1", "hub/courses/1/qr.svg", "hub/courses/1/qr", "hub/admin/credentials"):
        r = sam.get(hub.url + path, allow_redirects=False, timeout=60)
        assert r.status_code == 403, (path, r.status_code)
    token = hub.token("sam")
    for method, path in (("GET", "courses"), ("POST", "courses"), ("GET", "courses/1"), ("PATCH", "courses/1"),
                         ("DELETE", "courses/1"), ("GET", "courses/1/link"), ("POST", "courses/1/warm"),
                         ("GET", "credentials"), ("POST", "credentials")):
        r = hub.api(method, path, token=token, json={"repo": env["url"]})
        assert r.status_code == 403, (method, path, r.status_code)
        assert r.json()["status"] == 403
    r = hub.post_form(sam, "hub/courses/new", {"repo": env["url"]})
    assert r.status_code == 403
    # Not logged in: pages send to the login page, the API answers 401.
    anon = hub.browser()
    r = anon.get(hub.url + "hub/courses", allow_redirects=False, timeout=60)
    assert r.status_code == 302 and "/hub/login?next=" in r.headers["Location"]
    assert hub.api("GET", "courses").status_code == 401
    # Nobody but teachers sees the Courses link.
    assert 'id="nav-courses"' not in sam.get(hub.url + "hub/home", timeout=60).text
    assert 'id="nav-courses"' in env["ines"].get(hub.url + "hub/home", timeout=60).text


def test_the_instructor_role_is_granted_and_revoked_by_admins_on_the_page_api_and_cli(env):
    hub, admin = env["hub"], env["admin"]
    hub.add_user("tara", "Tara-Pass-2024")
    tara = hub.login("tara", "Tara-Pass-2024")
    assert tara.get(hub.url + "hub/courses", allow_redirects=False, timeout=60).status_code == 403

    r = hub.post_form(admin, "hub/admin/users/tara/instructor", {"instructor": "on"})
    assert r.status_code == 303
    assert tara.get(hub.url + "hub/courses", allow_redirects=False, timeout=60).status_code == 200
    users = {u["name"]: u for u in hub.api("GET", "users", token=hub.token("admin")).json()}
    assert users["tara"]["instructor"] is True and "instructor" in users["tara"]["roles"]

    r = hub.api("PATCH", "users/tara", token=hub.token("admin"), json={"instructor": False})
    assert r.status_code == 200 and r.json()["instructor"] is False
    assert tara.get(hub.url + "hub/courses", allow_redirects=False, timeout=60).status_code == 403
    # Only admins may grant it.
    r = hub.api("PATCH", "users/tara", token=hub.token("ines"), json={"instructor": True})
    assert r.status_code == 403

    out = hub.cli("user", "instructor", "tara", "on").stdout
    assert "tara is now an instructor" in out
    listed = {u["name"]: u for u in __import__("json").loads(hub.cli("user", "list", "--json").stdout)}
    assert listed["tara"]["instructor"] is True
    fresh = hub.login("tara", "Tara-Pass-2024")
    assert fresh.get(hub.url + "hub/courses", allow_redirects=False, timeout=60).status_code == 200
    r = hub.cli("user", "instructor", "tara", "maybe", check=False)
    assert r.returncode == 2 and "on|off" in r.stderr
    r = hub.cli("user", "instructor", "nobody", "on", check=False)
    assert r.returncode == 1 and "error: not_found:" in r.stderr


def test_an_instructor_registers_edits_and_removes_a_course(env):
    hub, ines = env["hub"], env["ines"]
    r = register(env, ines, repo=env["url"], title="Data 8", default_branch="main",
                 default_file="week1/intro.ipynb")
    cid = course_id_from(r)
    page = ines.get(hub.url + r.headers["Location"].lstrip("/"), timeout=120).text
    assert by_id(page, "course-title") == "Data 8"
    assert "Course registered." in page

    # The same repository under another spelling is the same course.
    r = register(env, ines, repo=env["url"][: -len(".git")] + "/", title="Again")
    assert r.status_code == 409
    assert "already registered" in by_id(r.text, "course-error")
    assert input_value(r.text, "course-title") == "Again"  # what was typed is kept

    r = register(env, ines, repo="ssh://git@example.org/x.git")
    assert r.status_code == 400 and "repo:" in by_id(r.text, "course-error")
    r = register(env, ines, repo="https://user:secret@example.org/x.git")
    assert r.status_code == 400 and "secret" not in r.text
    r = register(env, ines, repo=env["url"] + "x", default_file="../../etc/passwd")
    assert r.status_code == 400 and "file:" in by_id(r.text, "course-error")
    # Sources the hub would refuse to sync from (gitpuller.allowed_sources) are refused here too.
    for refused in ("http://127.0.0.1:9/course.git", "file:///etc/", "/srv/courses/x"):
        r = register(env, ines, repo=refused)
        assert r.status_code == 400 and "does not sync from" in by_id(r.text, "course-error"), refused
        assert "allowed_sources" in by_id(r.text, "course-error")
    r = hub.post_form(ines, "hub/courses/new", {"repo": env["url"] + "y"}, xsrf=False)
    assert r.status_code == 403

    listed = hub.api("GET", "courses", session=ines).json()
    mine = [c for c in listed if c["id"] == cid]
    assert mine and mine[0]["repo"] == env["url"] and mine[0]["default_file"] == "week1/intro.ipynb"
    assert mine[0]["created_by"] == "ines"
    courses_page = ines.get(hub.url + "hub/courses", timeout=60).text
    assert "Data 8" in by_id(courses_page, "courses")

    r = hub.post_form(ines, f"hub/courses/{cid}/edit", {"title": "Data 8 (fall)", "repo": env["url"],
                                                         "default_branch": "week3", "default_file": ""})
    assert r.status_code == 303
    got = hub.api("GET", f"courses/{cid}", session=ines).json()
    assert got["title"] == "Data 8 (fall)" and got["default_branch"] == "week3" and got["default_file"] == ""
    r = hub.post_form(ines, f"hub/courses/{cid}/edit", {"default_branch": "bad branch"})
    assert r.status_code == 400 and "branch:" in by_id(r.text, "edit-error")

    # The API does the same, with JSON errors.
    r = hub.api("POST", "courses", session=ines, json={"repo": env["url"] + "z", "colour": "red"})
    assert r.status_code == 400 and "colour" in r.json()["message"]
    r = hub.api("POST", "courses", session=ines, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = hub.api("POST", "courses", session=ines, json={"repo": "https://example.org/other/thing.git"})
    assert r.status_code == 201 and r.json()["title"] == "thing"
    other = r.json()["id"]
    assert hub.api("PATCH", f"courses/{other}", session=ines, json={"repo": env["url"]}).status_code == 409
    assert hub.api("DELETE", f"courses/{other}", session=ines).status_code == 204
    assert hub.api("GET", f"courses/{other}", session=ines).status_code == 404

    r = hub.post_form(ines, f"hub/courses/{cid}/delete", {})
    assert r.status_code == 303
    assert hub.api("GET", f"courses/{cid}", session=ines).status_code == 404
    assert ines.get(hub.url + f"hub/courses/{cid}", timeout=60).status_code == 404


def test_the_link_generator_offers_the_repositorys_branches_and_files_and_makes_links_that_parse_back(env, tmp_path):
    hub, ines, url = env["hub"], env["ines"], env["url"]
    cid = course_id_from(register(env, ines, repo=url, title="Links", default_file="week1/intro.ipynb"))
    page = ines.get(hub.url + f"hub/courses/{cid}", timeout=120).text
    branches = options(page, "gen-branch")
    assert {"main", "week3", "v1", XSS_BRANCH} <= set(branches)
    assert selected(page, "gen-branch") == "main"
    files = options(page, "gen-file")
    assert {"README.md", "week1/intro.ipynb", "week 2/lab one.ipynb", "data/x.csv", XSS_FILE} <= set(files)
    assert "week3/only-here.ipynb" not in files
    assert selected(page, "gen-file") == "week1/intro.ipynb"
    link = input_value(page, "gen-link")
    assert link.startswith(hub.url + "hub/user-redirect/git-pull?")
    assert link_params(link) == {"repo": url, "branch": "main", "urlpath": "lab/tree/course/week1/intro.ipynb"}

    # Another branch: its own files; classic UI; a target folder; another hub.
    page = ines.get(hub.url + f"hub/courses/{cid}", params={
        "branch": "week3", "file": "week3/only-here.ipynb", "app": "classic", "target": "fall/data8",
        "hub": "https://other.example.edu/"}, timeout=120).text
    assert "week3/only-here.ipynb" in options(page, "gen-file")
    link = input_value(page, "gen-link")
    assert link_params(link) == {"repo": url, "branch": "week3", "targetpath": "fall/data8",
                                 "urlpath": "notebooks/fall/data8/week3/only-here.ipynb"}
    other = input_value(page, "gen-nbgitpuller")
    assert other.startswith("https://other.example.edu/hub/user-redirect/git-pull?")
    assert link_params(other)["urlpath"] == "notebooks/fall/data8/week3/only-here.ipynb"

    # The API: files per branch, refs, links.
    files = hub.api("GET", f"courses/{cid}/files", session=ines, params={"branch": "week3"}).json()["files"]
    assert "week3/only-here.ipynb" in files
    r = hub.api("GET", f"courses/{cid}/files", session=ines, params={"branch": "nope"})
    assert r.status_code == 404
    refs = hub.api("GET", f"courses/{cid}/refs", session=ines).json()
    assert refs["default_branch"] == "main" and "week3" in refs["branches"] and refs["tags"] == ["v1"]
    assert refs["tips"]["week3"] == git(env["teacher"].work, "rev-parse", "week3").strip()
    r = hub.api("GET", f"courses/{cid}/link", session=ines,
                params={"branch": "main", "file": "week 2/lab one.ipynb", "app": "lab", "hub": "https://o.example.org"})
    body = r.json()
    assert link_params(body["link"])["urlpath"] == "lab/tree/course/week%202/lab%20one.ipynb"
    assert link_params(body["nbgitpuller_link"])["targetpath"] == "course"  # nbgitpuller would say course.git
    for bad in ({"target": "../x"}, {"target": "/etc"}, {"app": "vscode"}, {"file": "a/../../b"},
                {"branch": "a b"}, {"hub": "javascript:alert(1)"}):
        r = hub.api("GET", f"courses/{cid}/link", session=ines, params=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["message"].split(":")[0] in ("target", "app", "file", "branch", "hub"), r.text

    # The QR code decodes to the very link.
    r = ines.get(hub.url + body["qr_png"].lstrip("/"), timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    png = tmp_path / "qr.png"
    png.write_bytes(r.content)
    assert decode_qr_png(png) == body["link"]
    svg = ines.get(hub.url + body["qr_svg"].lstrip("/"), timeout=60)
    assert svg.status_code == 200 and svg.headers["Content-Type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and "<script" not in svg.text
    projector = ines.get(hub.url + body["projector"].lstrip("/"), timeout=60).text
    assert html.unescape(by_id(projector, "projector-link")) == body["link"]
    assert "<svg" in by_id(projector, "projector-qr")

    # coursehub link makes the same links from the shell.
    out = hub.cli("link", "--course", str(cid), "--file", "week 2/lab one.ipynb", "--app", "lab",
                  "--branch", "main", "--hub", hub.url, "--nbgitpuller", "https://o.example.org",
                  "--qr", str(tmp_path / "cli.png")).stdout.splitlines()
    assert out == [body["link"], body["nbgitpuller_link"]]
    assert decode_qr_png(tmp_path / "cli.png") == body["link"]
    r = hub.cli("link", url, "--target", "../up", check=False)
    assert r.returncode == 1 and r.stderr.startswith("error: invalid: target:")


def test_warming_the_cache_downloads_once_and_counts_upstream_fetches(env):
    hub, ines, srv, teacher = env["hub"], env["ines"], env["srv"], env["teacher"]
    teacher2 = make_course_repo(env["teacher"].work.parent.parent / "warm-teacher")
    url = srv.add_repo("warm", teacher2.work)
    cid = course_id_from(register(env, ines, repo=url, title="Warm"))
    srv.reset_log()
    r = hub.api("POST", f"courses/{cid}/warm", session=ines)
    assert r.status_code == 200
    first = r.json()
    assert first["ok"] is True and first["fetched"] is True
    assert first["cache"]["state"] == "ready" and first["cache"]["upstream_fetches"] == 1
    assert srv.count("fetch", "warm") == 1

    # Nothing new upstream: refs are checked, nothing is downloaded.
    second = hub.api("POST", f"courses/{cid}/warm", session=ines).json()
    assert second["fetched"] is False and second["cache"]["upstream_fetches"] == 1
    assert srv.count("fetch", "warm") == 1 and srv.count("refs", "warm") >= 2

    # The teacher pushes: the page's button downloads it, and says so.
    teacher2.write("week4.ipynb", "{}")
    teacher2.commit("week 4")
    git(teacher2.work, "push", "-q", "--force", str(srv.repo_path("warm")), "main")
    r = hub.post_form(ines, f"hub/courses/{cid}/warm", {})
    assert r.status_code == 200
    assert "Downloaded the latest version" in by_id(r.text, "warm-result")
    assert by_id(r.text, "cache-fetches") == "2"
    assert by_id(r.text, "cache-state") == "ready"
    assert srv.count("fetch", "warm") == 2
    assert "week4.ipynb" in options(r.text, "gen-file")
    listed = [c for c in hub.api("GET", "courses", session=ines).json() if c["id"] == cid][0]
    assert listed["cache"]["upstream_fetches"] == 2
    # The admin page lists the repository's cache with the same count and its course.
    mirrors = by_id(env["admin"].get(hub.url + "hub/admin", timeout=60).text, "mirrors")
    row = re.search(r'<tr data-repo="%s">(.*?)</tr>' % re.escape(url), mirrors, re.S)
    assert row, mirrors
    assert 'class="fetches">2</td>' in row.group(1) and ">ready<" in row.group(1) and ">Warm</a>" in row.group(1)

    # Upstream gone: a clear error, the cache keeps serving.
    served = srv.repo_path("warm")
    hidden = served.with_name("warm-hidden.git")
    served.rename(hidden)
    try:
        bad = hub.api("POST", f"courses/{cid}/warm", session=ines).json()
        assert bad["ok"] is False and bad["code"] == "fetch" and "not found" in bad["message"]
        page = ines.get(hub.url + f"hub/courses/{cid}", timeout=120).text
        assert "could not be read" in by_id(page, "refs-error")
        assert "week3" in options(page, "gen-branch")  # from the cache
    finally:
        hidden.rename(served)


def test_names_typed_by_users_or_chosen_upstream_are_inert_on_every_page(env):
    hub, ines, admin = env["hub"], env["ines"], env["admin"]
    evil_title = '<script>alert("title")</script>'
    # One course per repository: the XSS course gets a second served copy.
    url = env["srv"].add_repo("xss", env["teacher"].work)
    cid = course_id_from(register(env, ines, repo=url, title=evil_title, default_branch=XSS_BRANCH,
                                  default_file=XSS_FILE))
    pages = [
        ines.get(hub.url + "hub/courses", timeout=60).text,
        ines.get(hub.url + f"hub/courses/{cid}", timeout=120).text,
        ines.get(hub.url + f"hub/courses/{cid}", params={"branch": XSS_BRANCH, "file": XSS_FILE,
                                                          "target": "<b>t</b>"}, timeout=120).text,
        ines.get(hub.url + f"hub/courses/{cid}/qr", params={"branch": XSS_BRANCH, "file": XSS_FILE}, timeout=60).text,
        hub.post_form(ines, "hub/courses/new", {"repo": url, "title": evil_title}).text,
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x onerror" not in page
        assert "<svg/onload" not in page
        assert "<b>t</b>" not in page
    assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;" in pages[0]
    # The names are still usable: the branch and file are offered and selected.
    assert XSS_BRANCH in options(pages[1], "gen-branch") and selected(pages[1], "gen-branch") == XSS_BRANCH
    assert selected(pages[1], "gen-file") == XSS_FILE
    link = input_value(pages[1], "gen-link")
    assert link_params(link)["branch"] == XSS_BRANCH
    assert link_params(link)["urlpath"].endswith("%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.ipynb")
    # JSON answers carry the names as data.
    got = hub.api("GET", f"courses/{cid}", session=ines).json()
    assert got["title"] == evil_title and got["default_branch"] == XSS_BRANCH
