"""`coursehub cred add | list | remove` as an admin uses them: the secret
goes in through stdin only, is stored encrypted in P/state with 0600 files,
and is never printed again."""

import json
import stat

from pull_support import coursehub

SECRET = "ghp_AbCdEfGhIjKlMnOpQrStUv0123"


def add(prefix_dir, url_prefix, user="teacher", secret=SECRET, *extra):
    return coursehub("cred", "add", url_prefix, "--username", user, "--token-stdin", *extra,
                     "--prefix", prefix_dir, input=secret + "\n")


def test_add_list_remove_round_trip(tmp_path):
    r = add(tmp_path, "https://git.example.edu/staff", "teacher", SECRET, "--expires", "2099-06-30")
    assert r.code == 0, r.err
    assert SECRET not in r.out + r.err
    assert "0123" in r.out
    listing = coursehub("cred", "list", "--prefix", tmp_path)
    assert listing.code == 0
    assert "https://git.example.edu/staff/" in listing.out
    assert "teacher" in listing.out and "...0123" in listing.out and "2099-06-30" in listing.out
    assert SECRET not in listing.out
    data = json.loads(coursehub("cred", "list", "--json", "--prefix", tmp_path).out)
    assert data == [
        {
            "prefix": "https://git.example.edu/staff/",
            "username": "teacher",
            "last4": "0123",
            "expires": "2099-06-30",
            "expired": False,
            "created": data[0]["created"],
            "last_used": None,
            "last_error": None,
            "last_error_at": None,
        }
    ]
    r = coursehub("cred", "remove", "https://git.example.edu/staff/", "--prefix", tmp_path)
    assert r.code == 0, r.err
    assert "No stored credentials" in coursehub("cred", "list", "--prefix", tmp_path).out
    r = coursehub("cred", "remove", "https://git.example.edu/staff/", "--prefix", tmp_path)
    assert r.code != 0 and r.error_line.startswith("error: not_found: ")


def test_the_store_is_encrypted_and_private_to_its_owner(tmp_path):
    assert add(tmp_path, "https://git.example.edu/staff").code == 0
    state = tmp_path / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("credentials.json", "credentials.key"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    for p in state.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), p
            assert SECRET[:-4].encode() not in p.read_bytes(), p


def test_the_token_is_read_from_stdin_only(tmp_path):
    r = coursehub("cred", "add", "https://h.example/x", "--username", "u", "--prefix", tmp_path, input=SECRET)
    assert r.code == 2 and "--token-stdin" in r.err
    r = coursehub("cred", "add", "https://h.example/x", "--username", "u", "--token", SECRET, "--prefix", tmp_path)
    assert r.code == 2
    assert not (tmp_path / "state/credentials.json").exists()


def test_bad_input_is_refused_with_a_clear_message(tmp_path):
    cases = [
        ("ssh://h.example/x", "u", SECRET, ()),
        ("https://user:pw@h.example/x", "u", SECRET, ()),
        ("https://h.example/x", "u", "", ()),
        ("https://h.example/x", "u", SECRET, ("--expires", "31/12/2026")),
    ]
    for prefix, user, secret, extra in cases:
        r = add(tmp_path, prefix, user, secret, *extra)
        assert r.code != 0, prefix
        assert r.error_line.startswith("error: "), r.err
        assert SECRET not in r.out + r.err
    assert coursehub("cred", "add", "https://h.example/x", "--token-stdin", "--prefix", tmp_path, input="x").code == 2
    assert "No stored credentials" in coursehub("cred", "list", "--prefix", tmp_path).out


def test_an_expired_credential_is_flagged(tmp_path):
    assert add(tmp_path, "https://h.example/x", "u", SECRET, "--expires", "2001-01-01").code == 0
    assert "EXPIRED" in coursehub("cred", "list", "--prefix", tmp_path).out
    assert json.loads(coursehub("cred", "list", "--json", "--prefix", tmp_path).out)[0]["expired"] is True


def test_the_prefix_comes_from_the_environment_too(tmp_path):
    r = coursehub("cred", "add", "https://h.example/x", "--username", "u", "--token-stdin", input=SECRET,
                  env={"COURSEHUB_PREFIX": str(tmp_path)})
    assert r.code == 0, r.err
    assert (tmp_path / "state/credentials.json").exists()
