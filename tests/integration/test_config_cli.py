"""`coursehub config` against a temporary prefix: tljh-config's cases, comments
surviving edits, concurrent edits, broken files and hostile values, all through
the real binary."""
import json
import os
import stat
import subprocess

import pytest

from conftest import BIN, SOURCE


@pytest.fixture
def prefix(tmp_path):
    p = tmp_path / "prefix"
    p.mkdir()
    return p


def config_file(prefix):
    return prefix / "config" / "config.yaml"


def run(prefix, *args, check=True):
    # --prefix first: args may hold `--` before a value.
    r = subprocess.run([str(BIN), "config", "--prefix", str(prefix), *args],
                       capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, f"{args}: {r.stderr}"
    return r


def show_json(prefix, key=None, defaults=False):
    args = ["show", "--json"] + ([key] if key else []) + (["--defaults"] if defaults else [])
    return json.loads(run(prefix, *args).stdout)


def text(prefix):
    return config_file(prefix).read_text()


# --- tljh-config's cases ---------------------------------------------------

def test_set_creates_nested_keys(prefix):
    run(prefix, "set", "services.cull.timeout", "300")
    run(prefix, "set", "services.cull.every", "30")
    run(prefix, "set", "base_url", "/course/")
    assert text(prefix) == "services:\n  cull:\n    timeout: 300\n    every: 30\nbase_url: /course/\n"
    assert show_json(prefix) == {"services": {"cull": {"timeout": 300, "every": 30}}, "base_url": "/course/"}
    assert run(prefix, "show", "services.cull.timeout").stdout == "300\n"


def test_set_is_destructive_like_tljh_config(prefix):
    run(prefix, "--no-validate", "set", "a", "b")
    run(prefix, "--no-validate", "set", "a", "c")
    assert show_json(prefix) == {"a": "c"}
    run(prefix, "--no-validate", "set", "a.b", "d")
    assert show_json(prefix) == {"a": {"b": "d"}}
    run(prefix, "--no-validate", "set", "a", "hi")
    assert show_json(prefix) == {"a": "hi"}
    assert text(prefix) == "a: hi\n"


@pytest.mark.parametrize("arg, value", [("true", True), ("FALSE", False), ("True", True)])
def test_set_parses_booleans_in_any_case(prefix, arg, value):
    run(prefix, "set", "https.enabled", arg)
    assert show_json(prefix, "https.enabled") is value


def test_set_types_values_like_tljh_config(prefix):
    run(prefix, "set", "https.port", "123")
    assert show_json(prefix, "https.port") == 123
    run(prefix, "set", "limits.cpu", "1.5")
    assert show_json(prefix, "limits.cpu") == 1.5
    run(prefix, "set", "limits.memory", "2G")
    assert show_json(prefix, "limits.memory") == "2G"
    run(prefix, "set", "limits.memory", "none")
    assert show_json(prefix, "limits.memory") is None
    run(prefix, "set", "limits.memory", "1073741824")
    assert show_json(prefix, "limits.memory") == 1073741824
    # Unknown keys (forced) get tljh-config's typing exactly.
    for raw, typed in [("1", 1), ("1.25", 1.25), ("x", "x"), ("1x", "1x"), ("1.2x", "1.2x"),
                       ("None", None), ("none", None), ("", "")]:
        run(prefix, "--no-validate", "set", "foo.bar", raw)
        assert show_json(prefix, "foo.bar") == typed, raw
    # A forced unknown key blocks validated edits until it is gone.
    r = run(prefix, "set", "http.address", "127", check=False)
    assert r.returncode == 1 and "foo: unknown key" in r.stderr
    run(prefix, "unset", "foo.bar")
    # Keys that take text keep what was typed.
    run(prefix, "set", "http.address", "127")
    assert show_json(prefix, "http.address") == "127"
    assert "address: \"127\"" in text(prefix)


def test_unset_removes_the_key_and_prunes_empty_parents(prefix):
    run(prefix, "set", "services.cull.timeout", "1")
    run(prefix, "set", "services.cull.every", "2")
    run(prefix, "unset", "services.cull.timeout")
    assert show_json(prefix) == {"services": {"cull": {"every": 2}}}
    run(prefix, "set", "base_url", "/x/")
    run(prefix, "unset", "services.cull.every")
    assert show_json(prefix) == {"base_url": "/x/"}
    assert text(prefix) == "base_url: /x/\n"
    run(prefix, "unset", "base_url")
    assert show_json(prefix) == {}


def test_add_item_and_remove_item(prefix):
    run(prefix, "add-item", "users.admin", "ann")
    run(prefix, "add-item", "users.admin", "bob")
    assert show_json(prefix, "users.admin") == ["ann", "bob"]
    assert text(prefix) == "users:\n  admin:\n    - ann\n    - bob\n"
    run(prefix, "remove-item", "users.admin", "ann")
    assert show_json(prefix, "users.admin") == ["bob"]
    run(prefix, "remove-item", "users.admin", "bob")
    assert show_json(prefix, "users.admin") == []
    # Forced list keys get typed items, as with tljh-config.
    run(prefix, "--no-validate", "add-item", "foo.bar", "1")
    run(prefix, "--no-validate", "add-item", "foo.bar", "2")
    run(prefix, "--no-validate", "add-item", "foo.bar", "1.25")
    assert show_json(prefix, "foo.bar") == [1, 2, 1.25]
    run(prefix, "--no-validate", "remove-item", "foo.bar", "1")
    assert show_json(prefix, "foo.bar") == [2, 1.25]


def test_list_items_of_text_lists_stay_text(prefix):
    run(prefix, "add-item", "users.admin", "007")
    run(prefix, "add-item", "users.admin", "true")
    assert show_json(prefix, "users.admin") == ["007", "true"]
    run(prefix, "remove-item", "users.admin", "007")
    assert show_json(prefix, "users.admin") == ["true"]


def test_missing_keys_are_errors(prefix):
    r = run(prefix, "unset", "base_url", check=False)
    assert r.returncode == 1 and "base_url is not set" in r.stderr
    run(prefix, "set", "base_url", "/x/")
    r = run(prefix, "unset", "services.cull.timeout", check=False)
    assert r.returncode == 1 and "services.cull.timeout is not set" in r.stderr
    r = run(prefix, "remove-item", "users.admin", "ann", check=False)
    assert r.returncode == 1 and "users.admin is not set" in r.stderr
    run(prefix, "add-item", "users.admin", "ann")
    r = run(prefix, "remove-item", "users.admin", "zed", check=False)
    assert r.returncode == 1 and "zed is not in the list users.admin" in r.stderr
    r = run(prefix, "remove-item", "base_url", "x", check=False)
    assert r.returncode == 1 and "base_url is not a list" in r.stderr
    assert show_json(prefix) == {"base_url": "/x/", "users": {"admin": ["ann"]}}


def test_set_on_a_list_is_refused(prefix):
    run(prefix, "add-item", "users.admin", "ann")
    before = text(prefix)
    r = run(prefix, "set", "users.admin", "bob", check=False)
    assert r.returncode == 1
    assert "users.admin is a list" in r.stderr and "add-item" in r.stderr
    r = run(prefix, "--no-validate", "set", "users.admin", "bob", check=False)
    assert r.returncode == 1
    assert text(prefix) == before


def test_validation_errors_name_the_key_and_change_nothing(prefix):
    run(prefix, "set", "services.cull.timeout", "300")
    before = text(prefix)
    cases = [
        (["set", "services.cull.timeout", "10m"], "services.cull.timeout: expected an integer, got string '10m'"),
        (["set", "services.cull.timout", "10"], "services.cull.timout: unknown key (did you mean services.cull.timeout?)"),
        (["set", "https.enabled", "yes"], "https.enabled: expected a boolean"),
        (["set", "http.port", "99999"], "http.port: 99999 is out of range"),
        (["set", "user_environment.default_app", "vscode"], "'vscode' is not one of jupyterlab, classic"),
        (["set", "auth.type", "github"], "auth.type: 'github' is not one of"),
        (["set", "limits.memory", "lots"], "limits.memory: 'lots' is not a memory size"),
        (["set", "base_url", "none"], "base_url: expected a string, got null"),
        (["add-item", "http.port", "1"], "http.port: expected an integer, got a list"),
    ]
    for args, message in cases:
        r = run(prefix, *args, check=False)
        assert r.returncode == 1, args
        assert message in r.stderr, (args, r.stderr)
        assert "--no-validate" in r.stderr
        assert text(prefix) == before


def test_no_validate_forces_a_change_and_show_reports_it(prefix):
    run(prefix, "--no-validate", "set", "services.cull.timeout", "10m")
    assert show_json(prefix, "services.cull.timeout") == "10m"
    r = run(prefix, "show", check=False)
    assert r.returncode == 1
    assert r.stdout == text(prefix)
    assert "services.cull.timeout: expected an integer" in r.stderr
    # Until it is fixed, validated edits name the broken key.
    r = run(prefix, "set", "http.port", "8080", check=False)
    assert r.returncode == 1 and "services.cull.timeout" in r.stderr
    run(prefix, "set", "services.cull.timeout", "600")
    run(prefix, "set", "http.port", "8080")
    assert run(prefix, "show").returncode == 0


def test_tljh_class_names_are_accepted(prefix):
    run(prefix, "set", "auth.type", "firstuseauthenticator.FirstUseAuthenticator")
    run(prefix, "set", "auth.FirstUseAuthenticator.create_users", "true")
    run(prefix, "set", "auth.type", "nativeauthenticator.NativeAuthenticator")
    run(prefix, "set", "auth.NativeAuthenticator.open_signup", "true")
    assert show_json(prefix, "auth") == {
        "type": "nativeauthenticator.NativeAuthenticator",
        "FirstUseAuthenticator": {"create_users": True},
        "NativeAuthenticator": {"open_signup": True},
    }
    r = run(prefix, "set", "auth.native.open_signup", "false", check=False)
    assert r.returncode == 1 and "disagrees with auth.native.open_signup" in r.stderr


# --- what the admin wrote survives -----------------------------------------

COMMENTED = """\
# Hub for the autumn course -- ask Sam before changing anything.

base_url: /course/   # nginx forwards /course/ here

users:
  # Teachers, then assistants.
  admin:
    - sam
    - 'kim'   # assistant
    # - lee (on leave until March)

services:
  cull:
    timeout: 3600  # one hour: labs are long
"""


def test_comments_and_untouched_lines_survive_every_verb(prefix):
    config_file(prefix).parent.mkdir(parents=True)
    config_file(prefix).write_text(COMMENTED)
    run(prefix, "set", "services.cull.timeout", "7200")
    run(prefix, "add-item", "users.admin", "lee")
    run(prefix, "remove-item", "users.admin", "kim")
    run(prefix, "set", "services.cull.every", "30")
    run(prefix, "set", "https.enabled", "true")
    run(prefix, "unset", "https.enabled")
    assert text(prefix) == """\
# Hub for the autumn course -- ask Sam before changing anything.

base_url: /course/   # nginx forwards /course/ here

users:
  # Teachers, then assistants.
  admin:
    - sam
    - lee
    # - lee (on leave until March)

services:
  cull:
    timeout: 7200  # one hour: labs are long
    every: 30
"""
    assert show_json(prefix, "users.admin") == ["sam", "lee"]
    assert run(prefix, "show").stdout == text(prefix)


def test_flow_style_is_rewritten_only_where_the_change_is(prefix):
    config_file(prefix).parent.mkdir(parents=True)
    config_file(prefix).write_text("users: {admin: [ann]}  # compact\nhttp: {port: 80}\n")
    run(prefix, "add-item", "users.admin", "bob")
    assert text(prefix) == "users:  # compact\n  admin:\n    - ann\n    - bob\nhttp: {port: 80}\n"
    # A flow collection holding comments cannot be rewritten without losing them.
    original = "users: {\n  admin: [ann],  # the boss\n}\n"
    config_file(prefix).write_text(original)
    r = run(prefix, "add-item", "users.admin", "bob", check=False)
    assert r.returncode == 1
    assert "holds comments" in r.stderr and "left unchanged" in r.stderr
    assert text(prefix) == original


def test_a_json_config_file_can_be_edited(prefix):
    config_file(prefix).parent.mkdir(parents=True)
    config_file(prefix).write_text(json.dumps({"users": {"admin": ["boss"]}, "http": {"port": 8000}}, indent=2))
    run(prefix, "add-item", "users.admin", "ann")
    run(prefix, "set", "http.port", "8001")
    assert show_json(prefix) == {"users": {"admin": ["boss", "ann"]}, "http": {"port": 8001}}
    # (json.dumps wrote no final newline, and none is added.)
    assert text(prefix) == "users:\n  admin:\n    - boss\n    - ann\nhttp:\n  port: 8001"


def test_a_corrupted_file_gives_a_clear_error_and_is_not_overwritten(prefix):
    config_file(prefix).parent.mkdir(parents=True)
    broken = "users:\n  admin: [ann\nhttp:\n  port: 80\n"
    config_file(prefix).write_text(broken)
    before = os.stat(config_file(prefix))
    for args in (["set", "http.port", "81"], ["unset", "http.port"], ["add-item", "users.admin", "x"],
                 ["remove-item", "users.admin", "ann"], ["--no-validate", "set", "http.port", "81"]):
        r = run(prefix, *args, check=False)
        assert r.returncode == 1, args
        assert str(config_file(prefix)) in r.stderr and "line " in r.stderr, r.stderr
    assert text(prefix) == broken
    after = os.stat(config_file(prefix))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    r = run(prefix, "show", check=False)
    assert r.returncode == 1 and "line " in r.stderr


HOSTILE = [
    "héllo wörld ✓ 日本語 🎓",
    "it's \"double\" and 'single'",
    "key: value",
    "a # not a comment",
    "#hash first",
    "- looks like a list",
    "[flow] {too}",
    "&anchor *alias !tag",
    "trailing space ",
    " leading space",
    "true",
    "null",
    "~",
    "123",
    "back\\slash \\n not a newline",
    "tab\there",
    "---",
    "...",
    "%YAML",
    "x" * 100000,
]


def test_hostile_values_round_trip_exactly(prefix):
    config_file(prefix).parent.mkdir(parents=True)
    config_file(prefix).write_text("# top comment\nhttp:\n  port: 80  # port comment\n")
    for value in HOSTILE:
        run(prefix, "set", "https.tls.cert", "--", value)
        assert show_json(prefix, "https.tls.cert") == value, value[:40]
        run(prefix, "add-item", "users.admin", "--", value)
    assert show_json(prefix, "users.admin") == HOSTILE
    for value in HOSTILE[::2]:
        run(prefix, "remove-item", "users.admin", "--", value)
    assert show_json(prefix, "users.admin") == HOSTILE[1::2]
    assert text(prefix).startswith("# top comment\nhttp:\n  port: 80  # port comment\n")


def test_concurrent_edits_all_land(prefix):
    run(prefix, "set", "base_url", "/")
    n = 24
    procs = []
    for i in range(n):
        args = ["add-item", "users.admin", f"user{i:02d}"] if i % 2 == 0 else \
               ["add-item", "users.banned", f"user{i:02d}"]
        procs.append(subprocess.Popen([str(BIN), "config", "--prefix", str(prefix), *args],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert sorted(show_json(prefix, "users.admin")) == [f"user{i:02d}" for i in range(0, n, 2)]
    assert sorted(show_json(prefix, "users.banned")) == [f"user{i:02d}" for i in range(1, n, 2)]
    leftovers = [p.name for p in config_file(prefix).parent.iterdir() if ".tmp-" in p.name]
    assert leftovers == []


def test_writes_keep_the_file_mode_and_new_files_are_private(prefix):
    run(prefix, "set", "http.port", "8000")
    assert stat.S_IMODE(os.stat(config_file(prefix)).st_mode) == 0o600
    os.chmod(config_file(prefix), 0o640)
    run(prefix, "set", "http.port", "8001")
    assert stat.S_IMODE(os.stat(config_file(prefix)).st_mode) == 0o640


def test_show_and_the_example_config(prefix):
    r = run(prefix, "show")
    assert r.stdout == "" and "does not exist yet" in r.stderr
    example = (SOURCE / "examples" / "config.yaml").read_text()
    assert run(prefix, "show", "--defaults").stdout == example
    defaults = show_json(prefix, defaults=True)
    assert defaults["services"]["cull"] == {"enabled": True, "timeout": 600, "every": 60, "concurrency": 5,
                                            "users": False, "max_age": 0}
    assert defaults["auth"]["type"] == "native"
    assert defaults["users"]["admin"] == []
    # The example is a valid config.yaml, and an editable one.
    config_file(prefix).parent.mkdir(parents=True)
    config_file(prefix).write_text(example)
    assert run(prefix, "show").stdout == example
    run(prefix, "add-item", "users.admin", "ann")
    run(prefix, "set", "services.cull.timeout", "1200")
    assert show_json(prefix, "users.admin") == ["ann"]
    edited = text(prefix)
    assert edited.count("\n") == example.count("\n") + 1
    assert "  admin:\n    - ann\n" in edited and "    timeout: 1200\n" in edited
    assert run(prefix, "show", "--defaults", "services.cull.timeout").stdout == "1200\n"


def test_usage_errors(prefix):
    assert run(prefix, "set", "http.port", check=False).returncode == 2
    assert run(prefix, "frobnicate", check=False).returncode == 2
    r = run(prefix, "set", "a..b", "1", check=False)
    assert r.returncode == 1 and "empty parts" in r.stderr
    assert not config_file(prefix).exists()


# --- reload -----------------------------------------------------------------

def test_reload_without_a_running_hub_says_so(prefix):
    r = run(prefix, "reload", check=False)
    assert r.returncode == 1
    assert "no hub is running" in r.stderr and "coursehub serve" in r.stderr


def test_reload_never_signals_a_process_that_is_not_the_hub(prefix, tmp_path):
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        (prefix / "state").mkdir()
        (prefix / "state" / "hub.pid").write_text(f"{bystander.pid}\n")
        r = run(prefix, "reload", check=False)
        assert r.returncode == 1 and "no hub is running" in r.stderr
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_reload_refuses_an_invalid_config(prefix):
    run(prefix, "--no-validate", "set", "http.port", "eighty")
    r = run(prefix, "reload", check=False)
    assert r.returncode == 1 and "not reloading" in r.stderr and "http.port" in r.stderr


def test_reload_makes_the_running_hub_pick_up_changes(tmp_path):
    from hubproc import Hub

    with Hub(tmp_path, config={"users": {"admin": ["boss"]}}) as hub:
        prefix = hub.prefix
        hub.add_user("henry", "Henry-Pass-123")
        api = hub.api_client(hub.token("boss"))
        henry = hub.login("henry", "Henry-Pass-123")
        assert api.get(hub.url + "hub/api/users/carol", timeout=30).status_code == 404

        # The fixture wrote JSON; coursehub config edits it like any config.yaml.
        run(prefix, "add-item", "users.admin", "carol")
        run(prefix, "add-item", "users.banned", "henry")
        # Written, not yet applied.
        assert api.get(hub.url + "hub/api/users/carol", timeout=30).status_code == 404
        assert henry.get(hub.url + "hub/home", allow_redirects=False, timeout=30).status_code == 200

        reloads = hub.log().count("configuration reloaded")
        r = run(prefix, "reload")
        assert f"pid {hub.proc.pid}" in r.stdout
        hub.wait_for_log("configuration reloaded", count=reloads + 1, timeout=60)
        carol = api.get(hub.url + "hub/api/users/carol", timeout=30)
        assert carol.status_code == 200 and carol.json()["admin"] is True
        assert henry.get(hub.url + "hub/home", allow_redirects=False, timeout=30).status_code == 302

        # A configuration the hub would refuse is not sent; the hub keeps running as it was.
        run(prefix, "--no-validate", "set", "services.cull.timeout", "soon")
        r = run(prefix, "reload", check=False)
        assert r.returncode == 1 and "services.cull.timeout" in r.stderr
        assert hub.log().count("configuration reloaded") == reloads + 1
        assert "config reload failed" not in hub.log()
        assert api.get(hub.url + "hub/api/users/carol", timeout=30).json()["admin"] is True

    # Once the hub has stopped, reload says so.
    run(prefix, "unset", "services.cull.timeout")
    r = run(prefix, "reload", check=False)
    assert r.returncode == 1 and "no hub is running" in r.stderr
