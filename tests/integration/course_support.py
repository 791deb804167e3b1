"""Helpers for the course, link generator and credential tests: a teacher's
repository with a few branches, a tag and awkward file names, and small
HTML/link parsers.

    teacher = make_course_repo(tmp_path)         # work tree, branch main
    url = srv.add_repo("course", teacher.work)   # served by githttp
"""

from __future__ import annotations

import html
import re
import subprocess
import urllib.parse
from pathlib import Path

from pull_support import Teacher, git

# File and branch names an attacker could pick; git accepts them.
XSS_FILE = '<img src=x onerror=alert(1)>.ipynb'
XSS_BRANCH = 'x"><svg/onload=alert(1)>'
NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'


def make_course_repo(root: Path, xss_names: bool = False) -> Teacher:
    """main: README.md, week1/intro.ipynb, "week 2/lab one.ipynb", data/x.csv;
    branch week3 adds week3/only-here.ipynb; tag v1 on main."""
    root.mkdir(parents=True, exist_ok=True)
    t = Teacher(root)
    t.write("README.md", "# Course\n")
    t.write("week1/intro.ipynb", NOTEBOOK)
    t.write("week 2/lab one.ipynb", NOTEBOOK)
    t.write("data/x.csv", "a,b\n1,2\n")
    if xss_names:
        t.write(XSS_FILE, NOTEBOOK)
    t.commit("first week")
    git(t.work, "tag", "v1")
    git(t.work, "push", "-q", "origin", "v1")
    git(t.work, "checkout", "-q", "-b", "week3")
    t.write("week3/only-here.ipynb", NOTEBOOK)
    t.commit("week 3")
    git(t.work, "push", "-q", "origin", "week3")
    if xss_names:
        git(t.work, "branch", XSS_BRANCH)
        git(t.work, "push", "-q", "origin", XSS_BRANCH)
    git(t.work, "checkout", "-q", "main")
    return t


def link_params(link: str) -> dict:
    """The decoded query parameters of a git-pull link (single values)."""
    query = urllib.parse.urlsplit(link).query
    return {k: v for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)}


def by_id(page: str, element_id: str) -> str:
    """The inner HTML of the element with this id (first match, no nesting of the same tag)."""
    m = re.search(r'<(\w+)[^>]*\bid="%s"[^>]*>(.*?)</\1>' % re.escape(element_id), page, re.S)
    assert m, f"no element #{element_id} in the page"
    return m.group(2)


def input_value(page: str, element_id: str) -> str:
    m = re.search(r'<input[^>]*\bid="%s"[^>]*\bvalue="([^"]*)"' % re.escape(element_id), page)
    assert m, f"no input #{element_id} with a value in the page"
    return html.unescape(m.group(1))


def options(page: str, select_id: str) -> list[str]:
    m = re.search(r'<select[^>]*\bid="%s"[^>]*>(.*?)</select>' % re.escape(select_id), page, re.S)
    assert m, f"no select #{select_id} in the page"
    return [html.unescape(v) for v in re.findall(r'<option value="([^"]*)"', m.group(1))]


def selected(page: str, select_id: str) -> str | None:
    m = re.search(r'<select[^>]*\bid="%s"[^>]*>(.*?)</select>' % re.escape(select_id), page, re.S)
    assert m
    s = re.search(r'<option value="([^"]*)" selected', m.group(1))
    return html.unescape(s.group(1)) if s else None


def decode_qr_png(path: Path) -> str:
    """What zbarimg reads from a PNG (Debian's zbar-tools)."""
    r = subprocess.run(["zbarimg", "-q", "--raw", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"zbarimg could not read {path}: {r.stderr}"
    return r.stdout.strip()


def ps_lines() -> str:
    """Every process's command line, as `ps` shows them to anyone."""
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
