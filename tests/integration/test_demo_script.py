"""scripts/demo.sh, the README's first command, without installing, building
or serving: it syncs the generated course with `coursehub pull`, sets up the
hub with a demo admin, registers the demo course and prints a git-pull link.
Then the hub runs on that prefix: the admin finds the course on the course
page, and the printed link, followed as a logged-in user, syncs the course's
first notebook into their home."""

import os
import re
import subprocess
import urllib.parse

from conftest import BIN, SOURCE
from gitpull_support import sync
from hubproc import Hub


def run_demo(demo_dir):
    env = dict(os.environ, DEMO_DIR=str(demo_dir), DEMO_SKIP_SETUP="1", DEMO_NO_SERVE="1",
               DEMO_COURSE_SCALE="0.05", COURSEHUB_BIN=str(BIN))
    r = subprocess.run([str(SOURCE / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_the_demo_registers_its_course_and_prints_a_link_that_syncs_it(tmp_path):
    out = run_demo(tmp_path)
    links = re.findall(r"^ +(http://\S+/hub/user-redirect/git-pull\?\S+)$", out, re.M)
    assert len(links) == 1, out
    course_id = re.search(r"the demo course is course (\d+):", out).group(1)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(links[0]).query)
    notebook = "lectures/week01/01-introduction.ipynb"
    assert query["repo"] == [f"file://{tmp_path}/teacher/course"]
    assert query["urlpath"][0].endswith(f"course/{notebook}"), query

    # Running the demo again keeps the one course and the same link (and sets a new password).
    again = run_demo(tmp_path)
    password = re.search(r"sign in as demo-admin with password: (\S+)", again).group(1)
    assert re.search(r"the demo course is course (\d+):", again).group(1) == course_id
    assert re.findall(r"^ +(http://\S+/hub/user-redirect/git-pull\?\S+)$", again, re.M) == links

    with Hub(tmp_path) as hub:
        admin = hub.login("demo-admin", password)
        courses = hub.api("GET", "courses", session=admin).json()
        assert [(c["id"], c["title"], c["default_file"]) for c in courses] == [(int(course_id), "Demo course", notebook)]

        # The printed link, on this hub's address: sign-in is already done, so
        # it goes on to the user's git-pull page with every parameter.
        path_and_query = links[0].split("/", 3)[3]
        page = admin.get(hub.url + path_and_query)
        assert page.status_code == 200, page.text
        assert urllib.parse.urlsplit(page.url).path == "/user/demo-admin/git-pull"
        params = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query).items()}
        assert params["repo"] == query["repo"][0]
        events = sync(hub, admin, "demo-admin", **params)
        assert events[-1]["phase"] == "finished", events
        assert (hub.prefix / "home" / "demo-admin" / "course" / notebook).is_file()
