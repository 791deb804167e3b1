"""Offline bundles: one archive with the lock and the wheels; hostile archives refused."""
import io
import os
import tarfile

from envtools import index, make_env, package_dir, tree_state  # noqa: F401

OFFLINE = "http://127.0.0.1:9/simple/"  # nothing listens there


def snapshot(env):
    wh = env.prefix / "state" / "wheelhouse"
    return env.pip_list(), tree_state(env.user), sorted(os.listdir(wh)), len(env.history())


def make_tar(path, members, mode="w:gz"):
    """members: (name, bytes | None for a folder | ('symlink', target))."""
    with tarfile.open(path, mode) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            elif isinstance(data, tuple):
                ti.type = tarfile.SYMTYPE
                ti.linkname = data[1]
                t.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))


def test_a_bundle_installs_on_a_machine_with_no_index_at_all(tmp_path, index):
    source = make_env(tmp_path, index.url, name="A")
    source.run("install", "chgamma")
    bundle = tmp_path / "class.tgz"
    source.run("bundle", "create", str(bundle))
    target = make_env(tmp_path, OFFLINE, name="B")
    r = target.run("bundle", "import", str(bundle))
    assert "restart your kernel to use the new package" in r.stdout.lower()
    assert target.pip_list() == source.pip_list()
    assert target.python("import chgamma; print(chgamma.__version__)").stdout.strip() == "1.0"
    assert target.history()[0]["kind"] == "import"
    # what came in is in the wheelhouse: a later rollback works offline too
    target.run("rollback")
    assert "chgamma" not in target.own()


def test_hostile_or_broken_bundles_are_refused_before_anything_is_written(tmp_path, index):
    source = make_env(tmp_path, index.url, name="A")
    source.run("install", "chalpha==1.0")
    good = tmp_path / "good.tgz"
    source.run("bundle", "create", str(good))
    with tarfile.open(good) as t:
        members = {m.name: (t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()}
    lock = members["coursehub-bundle/requirements.lock"]
    wheel_name = next(n for n in members if n.endswith(".whl") and "chalpha" in n)

    target = make_env(tmp_path, OFFLINE, name="B")
    before = snapshot(target)
    cases = {}
    raw = good.read_bytes()
    (tmp_path / "truncated.tgz").write_bytes(raw[: len(raw) // 2])
    cases["truncated.tgz"] = "corrupted archive"
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF
    (tmp_path / "flipped.tgz").write_bytes(bytes(flipped))
    cases["flipped.tgz"] = "bundle refused"
    (tmp_path / "notanarchive.tgz").write_bytes(b"hello, this is not an archive\n" * 10)
    cases["notanarchive.tgz"] = "bundle refused"
    escape = tmp_path / "escaped.txt"
    make_tar(tmp_path / "traversal.tgz", [("coursehub-bundle/requirements.lock", lock),
                                          ("coursehub-bundle/../../escaped.txt", b"owned\n")])
    cases["traversal.tgz"] = "path traversal"
    make_tar(tmp_path / "absolute.tgz", [("coursehub-bundle/requirements.lock", lock),
                                         (str(escape), b"owned\n")])
    cases["absolute.tgz"] = "unsafe path"
    make_tar(tmp_path / "symlink.tgz", [("coursehub-bundle/requirements.lock", lock),
                                        ("coursehub-bundle/wheels/x-1.0-py3-none-any.whl", ("symlink", "/etc/passwd"))])
    cases["symlink.tgz"] = "link member"
    make_tar(tmp_path / "stranger.tgz", [("coursehub-bundle/requirements.lock", lock),
                                         ("coursehub-bundle/setup.py", b"import os\n")])
    cases["stranger.tgz"] = "unexpected member"
    tampered = dict(members)
    tampered[wheel_name] = members[wheel_name] + b"\0"
    make_tar(tmp_path / "tampered.tgz", list(tampered.items()))
    cases["tampered.tgz"] = "does not match the hash"
    make_tar(tmp_path / "nolock.tgz", [(wheel_name, members[wheel_name])])
    cases["nolock.tgz"] = "no coursehub-bundle/requirements.lock"
    # a compression bomb: 400 MiB of zeros in a few hundred KiB
    with tarfile.open(tmp_path / "bomb.tgz", "w:gz") as t:
        ti = tarfile.TarInfo("coursehub-bundle/wheels/chbomb-1.0-py3-none-any.whl")
        ti.size = 400 << 20

        class Zeros(io.RawIOBase):
            def __init__(self, n):
                self.left = n

            def readable(self):
                return True

            def readinto(self, b):
                n = min(len(b), self.left)
                b[:n] = bytes(n)
                self.left -= n
                return n

        t.addfile(ti, io.BufferedReader(Zeros(ti.size), 1 << 20))
    assert (tmp_path / "bomb.tgz").stat().st_size < (4 << 20)
    cases["bomb.tgz"] = "compression bomb"

    for name, why in cases.items():
        r = target.run("bundle", "import", str(tmp_path / name), check=False)
        assert r.returncode == 1, name
        assert "bad_bundle" in r.stderr and why in r.stderr, (name, r.stderr)
        assert "nothing was changed" in r.stderr
        assert snapshot(target) == before, name
    assert not escape.exists()
    assert not (tmp_path / "B" / "escaped.txt").exists()

    # and the good one still goes in
    target.run("bundle", "import", str(good))
    assert target.own()["chalpha"] == "1.0"
