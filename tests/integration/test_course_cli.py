"""`coursehub course add|list|remove` on a hub's prefix, without a running
hub: the same course records the pages and the API keep, the same refusals
(sources outside gitpuller.allowed_sources, a repository registered twice,
bad names), and nothing changed by a refused command."""

import json

from hubproc import Hub


def test_courses_from_the_shell_are_the_hubs_courses(tmp_path):
    hub = Hub(tmp_path, config={"gitpuller": {"allowed_sources": ["https://git.example.edu/staff/"]}})
    hub.add_user("ines", "Teach-Pass-2024")
    repo = "https://git.example.edu/staff/data8.git"

    r = hub.cli("course", "add", repo, "--title", "Data 8", "--branch", "fall", "--file", "week1/intro.ipynb",
                "--by", "ines")
    assert r.stdout.startswith("registered course 1: Data 8")

    refused = [
        (["course", "add", "http://git.example.edu/staff/x.git"], "does not sync from"),
        (["course", "add", "file:///etc/"], "does not sync from"),
        (["course", "add", "https://git.example.edu/staff/data8/"], "already registered"),
        (["course", "add", "https://git.example.edu/staff/new.git", "--file", "../escape"], "file"),
        (["course", "add", "https://git.example.edu/staff/new.git", "--branch", "a..b"], "branch"),
        (["course", "remove", "7"], "no such course"),
        (["course", "remove", "x"], "no such course"),
    ]
    for args, message in refused:
        bad = hub.cli(*args, check=False)
        assert bad.returncode == 1 and message in bad.stderr, (args, bad.stderr)
    usage = hub.cli("course", "frobnicate", check=False)
    assert usage.returncode != 0 and "add, list, remove" in usage.stderr

    listed = json.loads(hub.cli("course", "list", "--json").stdout)
    assert [(c["id"], c["title"], c["repo"], c["default_branch"], c["default_file"], c["created_by"])
            for c in listed] == [(1, "Data 8", repo, "fall", "week1/intro.ipynb", "ines")]
    assert hub.cli("course", "list").stdout.split("\n")[0].split("\t") == [
        "1", repo, "Data 8", "branch=fall", "file=week1/intro.ipynb"]

    # The running hub serves the same course, and links made from it.
    with hub:
        hub.add_user("admin", "Admin-Pass-2024", admin=True)
        courses = hub.api("GET", "courses", token=hub.token("admin")).json()
        assert [(c["id"], c["repo"], c["created_by"]) for c in courses] == [(1, repo, "ines")]
    link = hub.cli("link", "--course", "1", "--hub", "https://hub.example.edu/").stdout.strip()
    assert link.startswith("https://hub.example.edu/hub/user-redirect/git-pull?repo=")
    assert "branch=fall" in link and "week1%2Fintro.ipynb" in link

    assert hub.cli("course", "remove", "1").stdout.startswith("removed course 1: Data 8")
    assert json.loads(hub.cli("course", "list", "--json").stdout) == []
