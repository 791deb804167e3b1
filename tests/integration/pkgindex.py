"""A real PEP 503 package index on 127.0.0.1, with small real packages built at test time.

build_packages(dir) writes the wheels and sdists the environment tests use;
PackageIndex(dir) serves them with Python's http.server until stop().

Packages (all pure Python, no network needed to install them):
  chalpha 1.0, 1.1, 2.0     2.0 requires chbeta>=2
  chbeta 1.0, 2.0
  chgamma 1.0               requires chalpha>=1.1; console script chgamma-hello
  chbroken 1.0              sdist only; its build backend fails
  chevil 1.0                requires chbeta>=2; its wheel cannot be installed
                            (a file that would land outside the environment)
  chbig 1.0                 many files, so installing it takes a while
  chbench0 .. chbench9 1.0  independent packages for the benchmark
"""
import base64
import hashlib
import html
import http.server
import io
import pathlib
import re
import tarfile
import threading
import zipfile


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(outdir, name, version, requires=(), console_scripts=(), files=None,
                wheel_version="1.0"):
    """Writes NAME-VERSION-py3-none-any.whl into outdir and returns its path.

    files maps archive paths to text; by default one module NAME/__init__.py
    that records its version.
    """
    dist = re.sub(r"[-_.]+", "_", name)
    if files is None:
        files = {f"{dist}/__init__.py": f'__version__ = "{version}"\n'}
    info = f"{dist}-{version}.dist-info"
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: test package {name}",
    ]
    meta += [f"Requires-Dist: {r}" for r in requires]
    contents = {path: text.encode() for path, text in files.items()}
    contents[f"{info}/METADATA"] = ("\n".join(meta) + "\n\n").encode()
    contents[f"{info}/WHEEL"] = (
        f"Wheel-Version: {wheel_version}\nGenerator: coursehub-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n\n").encode()
    if console_scripts:
        lines = ["[console_scripts]"] + [f"{n} = {target}" for n, target in console_scripts]
        contents[f"{info}/entry_points.txt"] = ("\n".join(lines) + "\n").encode()
    record = [_record_line(p, d) for p, d in contents.items()]
    record.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = pathlib.Path(outdir) / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for p, d in contents.items():
            z.writestr(p, d)
    return path


def build_failing_sdist(outdir, name, version):
    """An sdist whose in-tree build backend raises, so building it always fails."""
    dist = re.sub(r"[-_.]+", "_", name)
    root = f"{dist}-{version}"
    members = {
        f"{root}/pyproject.toml": (
            "[build-system]\nrequires = []\nbuild-backend = \"failing_backend\"\n"
            "backend-path = [\".\"]\n"),
        f"{root}/failing_backend.py": (
            "def _fail(*args, **kwargs):\n"
            "    raise RuntimeError('chbroken cannot be built (on purpose)')\n"
            "get_requires_for_build_wheel = lambda *a, **k: []\n"
            "prepare_metadata_for_build_wheel = _fail\n"
            "build_wheel = _fail\n"
            "build_sdist = _fail\n"),
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n",
    }
    path = pathlib.Path(outdir) / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        for p, text in members.items():
            data = text.encode()
            ti = tarfile.TarInfo(p)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    return path


def build_packages(outdir):
    """Builds the whole test package set into outdir (a flat folder of files)."""
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    build_wheel(out, "chalpha", "1.0")
    build_wheel(out, "chalpha", "1.1")
    build_wheel(out, "chalpha", "2.0", requires=["chbeta>=2"])
    build_wheel(out, "chbeta", "1.0")
    build_wheel(out, "chbeta", "2.0")
    build_wheel(out, "chgamma", "1.0", requires=["chalpha>=1.1"],
                console_scripts=[("chgamma-hello", "chgamma:hello")],
                files={"chgamma/__init__.py":
                       '__version__ = "1.0"\n\ndef hello():\n    print("hello from chgamma 1.0")\n'})
    build_failing_sdist(out, "chbroken", "1.0")
    build_wheel(out, "chevil", "1.0", requires=["chbeta>=2"],
                files={"chevil/__init__.py": "", "../../../../chevil-escaped.txt": "outside\n"})
    big = {"chbig/__init__.py": ""}
    for i in range(3000):
        big[f"chbig/m{i:04d}.py"] = f"VALUE = {i}\n" + "# padding\n" * 20
    build_wheel(out, "chbig", "1.0", files=big)
    for i in range(10):
        mods = {f"chbench{i}/__init__.py": f"N = {i}\n"}
        for j in range(20):
            mods[f"chbench{i}/mod{j}.py"] = f"def f():\n    return {i * 100 + j}\n"
        build_wheel(out, f"chbench{i}", "1.0", files=mods)
    return out


def write_simple_index(files_dir, index_dir):
    """Lays out a PEP 503 tree: index_dir/simple/<project>/index.html linking
    to index_dir/files/<file>#sha256=..."""
    files_dir = pathlib.Path(files_dir)
    index_dir = pathlib.Path(index_dir)
    (index_dir / "files").mkdir(parents=True, exist_ok=True)
    projects = {}
    for f in sorted(files_dir.iterdir()):
        if f.name.endswith(".whl"):
            project = f.name.split("-")[0]
        elif f.name.endswith(".tar.gz"):
            project = f.name[: -len(".tar.gz")].rsplit("-", 1)[0]
        else:
            continue
        data = f.read_bytes()
        (index_dir / "files" / f.name).write_bytes(data)
        projects.setdefault(normalize(project), []).append((f.name, hashlib.sha256(data).hexdigest()))
    simple = index_dir / "simple"
    simple.mkdir(exist_ok=True)
    links = "".join(f'<a href="{p}/">{p}</a>\n' for p in sorted(projects))
    (simple / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    for p, entries in projects.items():
        (simple / p).mkdir(exist_ok=True)
        body = "".join(
            f'<a href="../../files/{html.escape(n)}#sha256={h}">{html.escape(n)}</a>\n'
            for n, h in entries)
        (simple / p / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{body}</body></html>\n")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    gates = {}

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        gate = self.gates.get(self.path.rsplit("/", 1)[-1])
        if gate is None:
            return super().do_GET()
        # Held: answer at once but trickle the body a byte at a time, so the
        # client neither gets the file nor times out until release().
        path = self.translate_path(self.path)
        with open(path, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.flush()
        gate.reached.set()
        sent = 0
        while not gate.release.wait(2) and sent < len(data) - 1:
            self.wfile.write(data[sent:sent + 1])
            self.wfile.flush()
            sent += 1
        self.wfile.write(data[sent:])


class Gate:
    """Holds downloads of one file until release() (reached is set when one waits)."""

    def __init__(self):
        self.reached = threading.Event()
        self.release = threading.Event()


class PackageIndex:
    """Serves index_dir over HTTP on 127.0.0.1 on a free port, in a thread."""

    def __init__(self, index_dir):
        gates = self._gates = {}
        handler_class = type("Handler", (_QuietHandler,), {"gates": gates})
        handler = lambda *a, **k: handler_class(*a, directory=str(index_dir), **k)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/simple/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def hold(self, filename):
        """Downloads of `filename` wait until the returned gate is released."""
        gate = Gate()
        self._gates[filename] = gate
        return gate

    def stop(self):
        for gate in self._gates.values():
            gate.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


if __name__ == "__main__":
    # python3 pkgindex.py serve DIR [--hold FILE]...: builds the packages into
    # DIR, serves them, prints the index URL on the first line of stdout, runs
    # until killed.  Downloads of each held FILE wait: "reached FILE" is
    # printed when one starts, and the line "release FILE" on stdin lets it go.
    import sys
    import signal

    args = sys.argv[1:]
    if len(args) < 2 or args[0] != "serve" or len(args) % 2 != 0 or any(a != "--hold" for a in args[2::2]):
        raise SystemExit("usage: pkgindex.py serve DIR [--hold FILE]...")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    root = pathlib.Path(args[1])
    build_packages(root / "files")
    write_simple_index(root / "files", root / "index")
    index = PackageIndex(root / "index")
    gates = {name: index.hold(name) for name in args[3::2]}
    lock = threading.Lock()

    def say(line):
        with lock:
            print(line, flush=True)

    def report(name, gate):
        gate.reached.wait()
        say(f"reached {name}")

    def releases():
        for line in sys.stdin:
            word, _, name = line.strip().partition(" ")
            if word == "release" and name in gates:
                gates[name].release.set()

    for name, gate in gates.items():
        threading.Thread(target=report, args=(name, gate), daemon=True).start()
    threading.Thread(target=releases, daemon=True).start()
    say(index.url)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    index.stop()
