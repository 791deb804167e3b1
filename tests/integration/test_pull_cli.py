"""`coursehub pull` from the command line, over file:// and local paths:
exit codes, the error line, --json events, and nbgitpuller's classic
scenarios as a user of the CLI sees them."""

import datetime
import json
import re
import subprocess
import threading

import pytest

from pull_support import Teacher, git, lines, pull, status


@pytest.fixture
def teacher(tmp_path):
    t = Teacher(tmp_path)
    t.write("README.md", "# Course\n")
    t.write("week1/intro.ipynb", lines(1, 30))
    t.commit("first")
    return t


def test_first_sync_prints_progress_and_exits_zero(tmp_path, teacher):
    r = pull(f"file://{teacher.upstream}", tmp_path / "course")
    assert r.code == 0, r.err
    assert "Cloned" in r.out
    assert (tmp_path / "course/week1/intro.ipynb").read_text() == lines(1, 30)
    assert git(tmp_path / "course", "remote", "get-url", "origin").strip() == f"file://{teacher.upstream}"
    assert status(tmp_path / "course") == ""


def test_json_mode_prints_one_event_per_line_ending_with_the_report(tmp_path, teacher):
    r = pull(teacher.upstream, tmp_path / "course", "--json")
    assert r.code == 0, r.err
    events = r.events
    assert all(e["phase"] == "syncing" for e in events[:-1])
    assert all(isinstance(e["output"], str) for e in events)
    assert any(e.get("progress", {}).get("stage") == "checkout" for e in events)
    rep = r.report
    assert rep["outcome"] == "cloned"
    assert rep["branch"] == "main"
    assert rep["commit"] == git(teacher.work, "rev-parse", "HEAD").strip()
    assert set(rep) >= {"files_updated", "files_restored", "files_renamed", "files_kept_local", "backup_dir"}


def test_failure_ends_with_an_error_line_and_a_json_error_event(tmp_path, teacher):
    r = pull(teacher.upstream, tmp_path / "course", "--branch", "nope", "--json")
    assert r.code != 0
    assert re.match(r"^error: branch_exist: .+", r.error_line), r.err
    last = r.events[-1]
    assert last["phase"] == "error"
    assert last["error"]["code"] == "branch_exist"
    assert "nope" in last["error"]["message"]
    assert not (tmp_path / "course").exists()


@pytest.mark.parametrize(
    "setup,code",
    [
        ("plain-folder", "not_a_repo"),
        ("other-repo", "remote_mismatch"),
        ("a-file", "target_invalid"),
    ],
)
def test_folders_that_are_not_this_course_are_left_untouched(tmp_path, teacher, setup, code):
    target = tmp_path / "course"
    if setup == "plain-folder":
        target.mkdir()
        (target / "essay.md").write_text("precious")
    elif setup == "other-repo":
        git(tmp_path, "init", "-q", str(target))
        (target / "essay.md").write_text("precious")
    else:
        target.write_text("precious")
    r = pull(teacher.upstream, target)
    assert r.code != 0
    assert r.error_line.startswith(f"error: {code}: "), r.err
    if setup == "a-file":
        assert target.read_text() == "precious"
    else:
        assert (target / "essay.md").read_text() == "precious"


def test_unsupported_transport_and_credentials_in_the_url_are_refused(tmp_path):
    r = pull("ssh://git@example.com/course.git", tmp_path / "a")
    assert r.code != 0 and r.error_line.startswith("error: clone: ")
    r = pull("https://ana:hunter2@example.com/course.git", tmp_path / "b")
    assert r.code != 0 and r.error_line.startswith("error: auth: ")
    assert "hunter2" not in r.out + r.err
    assert "cred add" in r.err


def test_usage_errors_exit_2(tmp_path):
    assert pull().code == 2
    assert pull("only-one-arg").code == 2
    assert pull("a", "b", "--bogus").code == 2


def test_classic_scenario_teacher_and_student_edits_merge_without_loss(tmp_path, teacher):
    """nbgitpuller's classic: the student edits, the teacher pushes; nothing is lost."""
    d = tmp_path / "course"
    assert pull(teacher.upstream, d).code == 0
    # Student: edits the top of the notebook, deletes the README, adds own notes.
    (d / "week1/intro.ipynb").write_text("student's first line\n" + lines(2, 30))
    (d / "README.md").unlink()
    (d / "my-notes.md").write_text("mine")
    (d / "week2").mkdir()
    (d / "week2/lab.ipynb").write_text("student's own lab")
    # Teacher: edits the bottom of the same notebook, adds week 2 with a lab of the same name.
    teacher.write("week1/intro.ipynb", lines(1, 29) + "teacher's last line\n")
    teacher.write("README.md", "# Course (updated)\n")
    teacher.write("week2/lab.ipynb", "teacher's lab")
    teacher.commit("week 2")
    r = pull(teacher.upstream, d, "--json")
    assert r.code == 0, r.err
    rep = r.report
    assert rep["outcome"] == "merged"
    assert (d / "week1/intro.ipynb").read_text() == "student's first line\n" + lines(2, 29) + "teacher's last line\n"
    assert (d / "README.md").read_text() == "# Course (updated)\n"
    assert rep["files_restored"] == ["README.md"]
    assert (d / "my-notes.md").read_text() == "mine"
    assert (d / "week2/lab.ipynb").read_text() == "teacher's lab"
    [renamed] = rep["files_renamed"]
    assert renamed["from"] == "week2/lab.ipynb"
    assert re.fullmatch(r"week2/lab__\d{14}\.ipynb", renamed["to"])
    assert (d / renamed["to"]).read_text() == "student's own lab"
    assert git(d, "ls-files", "-u") == ""
    assert subprocess.run(["git", "-C", str(d), "fsck", "--strict"], capture_output=True).returncode == 0
    # Clicking again changes nothing.
    again = pull(teacher.upstream, d, "--json")
    assert again.report["outcome"] == "up_to_date"


def test_conflicting_lines_keep_the_students_version_and_say_so(tmp_path, teacher):
    d = tmp_path / "course"
    assert pull(teacher.upstream, d).code == 0
    (d / "week1/intro.ipynb").write_text(lines(1, 9) + "student 10\n" + lines(11, 30))
    teacher.write("week1/intro.ipynb", lines(1, 9) + "teacher 10\n" + lines(11, 29) + "teacher 30\n")
    teacher.commit()
    r = pull(teacher.upstream, d)
    assert r.code == 0, r.err
    assert (d / "week1/intro.ipynb").read_text() == lines(1, 9) + "student 10\n" + lines(11, 29) + "teacher 30\n"
    assert "your version was kept" in r.out
    assert "week1/intro.ipynb" in r.out


def test_stale_and_fresh_index_locks(tmp_path, teacher):
    d = tmp_path / "course"
    assert pull(teacher.upstream, d).code == 0
    teacher.write("new.txt", "n")
    teacher.commit()
    (d / ".git/index.lock").write_text("")
    r = pull(teacher.upstream, d, "--lock-wait", "0.5")
    assert r.code != 0 and r.error_line.startswith("error: lock: "), r.err
    assert not (d / "new.txt").exists()
    subprocess.run(["touch", "-d", "15 minutes ago", str(d / ".git/index.lock")], check=True)
    r = pull(teacher.upstream, d)
    assert r.code == 0, r.err
    assert (d / "new.txt").read_text() == "n"


def test_two_processes_on_the_same_folder_both_succeed(tmp_path, teacher):
    d = tmp_path / "course"
    for round_ in range(2):
        teacher.write(f"r{round_}.txt", "x")
        tip = teacher.commit()
        results = []
        threads = [threading.Thread(target=lambda: results.append(pull(teacher.upstream, d))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.code for r in results] == [0, 0, 0], [r.err for r in results]
        assert git(d, "rev-parse", "HEAD").strip() == tip
        assert status(d) == ""


def test_an_nbgitpuller_shallow_clone_updates_in_place(tmp_path, teacher):
    d = tmp_path / "course"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{teacher.upstream}", str(d))
    assert (d / ".git/shallow").exists()
    (d / "week1/intro.ipynb").write_text(lines(1, 29) + "student 30\n")
    teacher.write("week1/intro.ipynb", "teacher 1\n" + lines(2, 30))
    teacher.write("week2.md", "w2")
    teacher.commit()
    r = pull(f"file://{teacher.upstream}", d, "--json")
    assert r.code == 0, r.err
    assert r.report["outcome"] == "merged"
    assert (d / "week1/intro.ipynb").read_text() == "teacher 1\n" + lines(2, 29) + "student 30\n"
    assert (d / "week2.md").read_text() == "w2"
    assert not (d / ".git/shallow").exists()
    assert subprocess.run(["git", "-C", str(d), "fsck", "--strict"], capture_output=True).returncode == 0


def test_unrelated_history_moves_the_folder_to_a_backup_with_a_warning(tmp_path, teacher):
    d = tmp_path / "course"
    assert pull(teacher.upstream, d).code == 0
    (d / "mine.txt").write_text("my work")
    git(teacher.work, "checkout", "-q", "--orphan", "restart")
    git(teacher.work, "rm", "-q", "-rf", ".")
    teacher.write("fresh.txt", "fresh")
    git(teacher.work, "add", "-A")
    git(teacher.work, "commit", "-q", "-m", "restart")
    git(teacher.work, "push", "-q", "--force", "origin", "restart:main")
    r = pull(teacher.upstream, d)
    assert r.code == 0, r.err
    m = re.search(r"(\S*course_backup_\d{14})", r.out)
    assert m, r.out
    assert "warning" in r.out.lower()
    assert (tmp_path / m.group(1)).joinpath("mine.txt").read_text() == "my work"
    assert (d / "fresh.txt").read_text() == "fresh"


def test_branch_switch_and_tags_from_the_cli(tmp_path, teacher):
    d = tmp_path / "course"
    git(teacher.work, "tag", "-a", "-m", "v1", "v1")
    git(teacher.work, "push", "-q", "origin", "v1")
    git(teacher.work, "checkout", "-q", "-b", "solutions")
    teacher.write("solutions.md", "s")
    teacher.commit()
    assert pull(teacher.upstream, d, "--branch", "v1").code == 0
    (d / "README.md").write_text("edited on v1")
    r = pull(teacher.upstream, d, "--branch", "solutions", "--json")
    assert r.code == 0, r.err
    assert r.report["outcome"] == "switched_branch"
    assert (d / "solutions.md").read_text() == "s"
    assert git(d, "show", "v1:README.md", check=False) == "# Course\n"
    assert git(d, "show", "refs/heads/v1:README.md") == "edited on v1"


def test_backup_moves_the_folder_aside_and_makes_a_fresh_copy(tmp_path, teacher):
    """nbgitpuller's backup=true link parameter."""
    d = tmp_path / "course"
    assert pull(teacher.upstream, d).code == 0
    (d / "README.md").write_text("my edit")
    r = pull(teacher.upstream, d, "--backup", "--json")
    assert r.code == 0, r.err
    rep = r.report
    assert rep["outcome"] == "reset_with_backup"
    assert re.fullmatch(r".*/course_backup_\d{14}", rep["backup_dir"])
    assert (tmp_path / rep["backup_dir"]).joinpath("README.md").read_text() == "my edit"
    assert (d / "README.md").read_text() == "# Course\n"
    # When the backup name is taken (here: for every second of the next
    # minute), a suffix is added and the existing folder is left alone.
    now = datetime.datetime.now()
    taken = [tmp_path / ("course_backup_" + (now + datetime.timedelta(seconds=k)).strftime("%Y%m%d%H%M%S"))
             for k in range(-1, 60)]
    taken = [p for p in taken if not p.exists()]  # the first backup may hold one of these names
    for p in taken:
        p.mkdir()
        (p / "keep.txt").write_text("older backup")
    (d / "README.md").write_text("my second edit")
    r = pull(teacher.upstream, d, "--backup", "--json")
    assert r.code == 0, r.err
    assert re.fullmatch(r".*/course_backup_\d{14}_\d+", r.report["backup_dir"]), r.report
    assert (tmp_path / r.report["backup_dir"]).joinpath("README.md").read_text() == "my second edit"
    assert all([q.name for q in p.iterdir()] == ["keep.txt"] for p in taken)
    # A folder that is not this course is still refused, not moved.
    other = tmp_path / "other"
    other.mkdir()
    (other / "essay.md").write_text("precious")
    r = pull(teacher.upstream, other, "--backup")
    assert r.code != 0 and r.error_line.startswith("error: not_a_repo: ")
    assert (other / "essay.md").read_text() == "precious"


def test_the_users_git_config_is_never_read(tmp_path, teacher):
    """A ~/.gitconfig (a worker's HOME is the student's) that rewrites URLs
    or line endings changes nothing: only the repository's config counts."""
    home = tmp_path / "home"
    (home / ".config/git").mkdir(parents=True)
    hostile = f'[core]\n\tautocrlf = true\n[url "http://127.0.0.1:9/"]\n\tinsteadOf = {teacher.upstream}\n'
    (home / ".gitconfig").write_text(hostile)
    (home / ".config/git/config").write_text(hostile)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    d = tmp_path / "course"
    r = pull(teacher.upstream, d, env=env)
    assert r.code == 0, r.err
    assert (d / "README.md").read_bytes() == b"# Course\n"
    teacher.write("README.md", "# Course\nv2\n")
    tip = teacher.commit()
    r = pull(teacher.upstream, d, "--json", env=env)
    assert r.code == 0, r.err
    assert r.report["outcome"] == "fast_forwarded"
    assert (d / "README.md").read_bytes() == b"# Course\nv2\n"
    assert git(d, "rev-parse", "HEAD").strip() == tip
    assert status(d) == ""


@pytest.mark.parametrize("student_edits", [True, False], ids=["merge", "fast-forward"])
def test_no_room_for_upstreams_files_puts_the_folder_back_and_the_next_sync_completes(tmp_path, teacher, student_edits):
    """A full disk or a used-up quota (here: a file size limit) stops the
    checkout half-way: the student gets a message saying so, the folder is
    as before the sync (no half-written or stray files), and once there is
    room the same link finishes the job with nothing left behind."""
    course = tmp_path / "course"
    assert pull(teacher.upstream, course).code == 0
    if student_edits:
        (course / "week1/intro.ipynb").write_text(lines(1, 30) + "my answer\n")
    teacher.write("README.md", "# Course, week 2\n")
    teacher.write("week2/data/big.csv", "0," * 1_500_000)  # 3 MB, tiny once compressed
    teacher.write("week2/.gitignore", "*.csv\n")  # upstream tracks it anyway: the file counts as ignored once written
    git(teacher.work, "add", "-f", "week2/data/big.csv")
    teacher.commit("week 2")
    before = {p.relative_to(course): p.read_bytes() for p in course.rglob("*") if p.is_file() and ".git" not in p.parts}

    r = pull(teacher.upstream, course, file_size_limit=1_000_000)
    assert r.code == 1
    assert r.error_line.startswith("error: merge: There is no room for the course files"), r.err
    assert "File too large" in r.error_line and "nothing of yours was lost" in r.error_line
    after = {p.relative_to(course): p.read_bytes() for p in course.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before
    assert not (course / "week2").exists()
    assert status(course) == ""

    r = pull(teacher.upstream, course, "--json")
    assert r.code == 0, r.err
    assert r.report["outcome"] == ("merged" if student_edits else "fast_forwarded")
    assert r.report["files_renamed"] == []
    assert (course / "week2/data/big.csv").stat().st_size == 3_000_000
    assert (course / "README.md").read_text() == "# Course, week 2\n"
    assert (course / "week1/intro.ipynb").read_text().endswith("my answer\n" if student_edits else "line 30\n")
    assert status(course) == ""
    subprocess.run(["git", "-C", str(course), "fsck", "--strict", "--no-progress"], check=True, capture_output=True)
