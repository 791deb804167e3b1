"""A real smart-HTTP git server on 127.0.0.1 for tests and benchmarks.

lighttpd runs `git http-backend` as a CGI program.  The listening socket is
bound by this module on 127.0.0.1:0 and handed to lighttpd (systemd socket
activation), so there is never a port race.  Every request that reaches git
is appended to a request log, so callers can count upstream work exactly.

    from githttp import GitHttpServer

    with GitHttpServer(tmp_path / "srv") as srv:
        url = srv.add_repo("course", "/path/to/teacher/work/tree")  # bare copy
        priv = srv.add_repo("secret", src, private=True)            # Basic auth
        srv.username, srv.password                                  # valid login
        srv.repo_path("course")      # the bare repo, push to it with `git push`
        srv.reset_log()
        ... run clients ...
        srv.count("fetch", "course")  # pack downloads (POST git-upload-pack)
        srv.count("refs", "course")   # ref advertisements (GET info/refs)

URLs look like http://127.0.0.1:PORT/git/course.git and, for private
repositories, http://127.0.0.1:PORT/git/private/secret.git.  With
`tls=True` the server speaks HTTPS as https://localhost:PORT/... with a
certificate for "localhost" from a throw-away CA (`srv.ca_file`; clients
trust it through SSL_CERT_FILE, see `srv.client_env()`).  Requests for
private repositories without valid credentials get 401 from lighttpd and
never reach git (so they are not in the request log; see `denied()` for
those, read from lighttpd's access log).

Counting: libgit2 (coursehub) speaks protocol v0, where every POST to
git-upload-pack is a pack request.  The git CLI asks for protocol v2, where
POSTs also carry ls-refs; create the server with `git_protocol="0"` to make
git CLI clients speak v0 too (one request fewer per operation), so that
`count("fetch")` counts pack requests exactly for every client.  Requests
made with v2 are logged with kind "v2" (ls-refs or fetch, not told apart).

Only the Python standard library, lighttpd and git are needed.  The server
is stopped by `stop()` or by leaving the `with` block.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["GitHttpServer", "Request"]

_BACKEND_CANDIDATES = ("/usr/lib/git-core/git-http-backend", "/usr/libexec/git-core/git-http-backend")


@dataclasses.dataclass(frozen=True)
class Request:
    """One request that reached git http-backend."""

    method: str  # GET or POST
    path: str  # PATH_INFO, e.g. /course.git/info/refs or /private/secret.git/git-upload-pack
    query: str  # e.g. service=git-upload-pack
    user: str  # the authenticated user, "" when anonymous
    time: float  # seconds since the epoch when the request arrived
    protocol: str = ""  # the Git-Protocol header the server honoured ("version=2"), "" for v0

    @property
    def repo(self) -> str:
        """The repository name, without .git and without the private/ folder."""
        parts = [p for p in self.path.split("/") if p]
        for i, part in enumerate(parts):
            if part.endswith(".git"):
                return part[: -len(".git")]
        return parts[-1] if parts else ""

    @property
    def kind(self) -> str:
        """'refs' (ref advertisement), 'fetch' (a v0 pack request), 'v2' (a
        protocol v2 command: ls-refs or fetch), 'push' or 'other'."""
        if self.path.endswith("/info/refs"):
            return "refs"
        if self.method == "POST" and self.path.endswith("/git-upload-pack"):
            return "v2" if "version=2" in self.protocol else "fetch"
        if self.path.endswith("/git-receive-pack") or "service=git-receive-pack" in self.query:
            return "push"
        return "other"


class GitHttpServer:
    """lighttpd + git http-backend on 127.0.0.1, with a request log.

    `root` is a scratch folder the server owns (created if missing).
    `username`/`password` are the one login the private area accepts.
    """

    def __init__(self, root, username: str = "teacher", password: str = "s3cret-token-4821",
                 git_protocol: str | None = None, tls: bool = False):
        self.root = Path(root)
        self.username = username
        self.password = password
        self.git_protocol = git_protocol
        self.tls = tls
        self.ca_file = self.root / "tls" / "ca.pem"
        self.repos_dir = self.root / "repos"
        self.log_path = self.root / "requests.log"
        self.access_log_path = self.root / "access.log"
        self.error_log_path = self.root / "error.log"
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------

    def __enter__(self) -> "GitHttpServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
        backend = next((p for p in _BACKEND_CANDIDATES if os.path.exists(p)), None)
        if backend is None:
            raise RuntimeError("git http-backend not found (install git)")
        (self.repos_dir / "private").mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        self.access_log_path.touch()
        cgi = self.root / "git-cgi.sh"
        # The wrapper logs each request with one O_APPEND write (atomic for
        # short lines), then becomes git http-backend.
        force_v0 = "unset HTTP_GIT_PROTOCOL\n" if self.git_protocol == "0" else ""
        cgi.write_text(
            "#!/bin/sh\n"
            + force_v0 +
            f"printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' \"$REQUEST_METHOD\" \"$PATH_INFO\" \"$QUERY_STRING\" "
            f"\"${{REMOTE_USER:-}}\" \"$(date +%s.%N)\" \"${{HTTP_GIT_PROTOCOL:-}}\" >> '{self.log_path}'\n"
            f"export GIT_PROJECT_ROOT='{self.repos_dir}'\n"
            "export GIT_HTTP_EXPORT_ALL=1\n"
            f"exec '{backend}'\n"
        )
        cgi.chmod(0o755)
        users = self.root / "users.txt"
        users.write_text(f"{self.username}:{self.password}\n")
        users.chmod(0o600)
        docroot = self.root / "htdocs"
        docroot.mkdir(exist_ok=True)

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self.port = self._sock.getsockname()[1]

        tls_conf = ""
        modules = '"mod_access", "mod_alias", "mod_auth", "mod_authn_file", "mod_cgi", "mod_setenv", "mod_accesslog"'
        if self.tls:
            pem = self._make_certificates()
            modules += ', "mod_openssl"'
            tls_conf = f'ssl.engine = "enable"\nssl.pemfile = "{pem}"\n'
        conf = self.root / "lighttpd.conf"
        conf.write_text(
            f"""
server.modules = ({modules})
{tls_conf}
server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.systemd-socket-activation = "enable"
server.errorlog = "{self.error_log_path}"
server.max-connections = 1024
server.max-fds = 4096
server.max-request-size = 2097152
accesslog.filename = "{self.access_log_path}"
accesslog.format = "%h %u %t \\"%r\\" %>s %b"
alias.url = ("/git" => "{cgi}")
$HTTP["url"] =~ "^/git" {{
  cgi.assign = ("" => "")
}}
auth.backend = "plain"
auth.backend.plain.userfile = "{users}"
$HTTP["url"] =~ "^/git/private/" {{
  auth.require = ("" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
}}
"""
        )
        fd = self._sock.fileno()
        # The socket becomes fd 3 in the child (socket activation's first fd);
        # LISTEN_PID must be lighttpd's own pid: bash (which, unlike dash,
        # takes multi-digit fds) exports its pid, then execs.
        self._proc = subprocess.Popen(
            ["/bin/bash", "-c", f'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -D -f "$1" 3<&{fd}', lighttpd, str(conf)],
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_ready()

    def _make_certificates(self) -> Path:
        """A CA and a certificate for "localhost" signed by it (openssl CLI)."""
        d = self.ca_file.parent
        d.mkdir(parents=True, exist_ok=True)

        def openssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=githttp test CA",
                "-keyout", str(d / "ca.key"), "-out", str(self.ca_file))
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
        (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")
        openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(self.ca_file), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", str(d / "ext.cnf"), "-out", str(d / "server.crt"))
        pem = d / "server.pem"
        pem.write_bytes((d / "server.crt").read_bytes() + (d / "server.key").read_bytes())
        pem.chmod(0o600)
        return pem

    def client_env(self) -> dict:
        """Environment entries that make clients (git, coursehub) trust the
        server's certificate; empty without TLS."""
        if not self.tls:
            return {}
        return {"SSL_CERT_FILE": str(self.ca_file), "GIT_SSL_CAINFO": str(self.ca_file)}

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import ssl

        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.tls else None
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                log = self.error_log_path.read_text(errors="replace") if self.error_log_path.exists() else ""
                raise RuntimeError(f"lighttpd exited: {err}\n{log}")
            try:
                urllib.request.urlopen(f"{self.origin}/", timeout=5, context=context).read()
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer means it is serving
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("lighttpd did not answer within 30 s")
                time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # -- repositories ----------------------------------------------------

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/git"

    def repo_path(self, name: str, private: bool = False) -> Path:
        """The bare repository served under `name`."""
        return self.repos_dir / ("private" if private else "") / f"{name}.git"

    def url(self, name: str, private: bool = False) -> str:
        return f"{self.base_url}/{'private/' if private else ''}{name}.git"

    def add_repo(self, name: str, source, private: bool = False) -> str:
        """Serves a bare clone of `source` (a path or URL git can clone) as
        `name`; returns its URL.  An existing repository of that name is replaced."""
        dest = self.repo_path(name, private)
        if dest.exists():
            shutil.rmtree(dest)
        subprocess.run(["git", "clone", "-q", "--bare", "--no-local", str(source), str(dest)], check=True)
        # Keep the default branch of the source (clone --bare copies HEAD).
        subprocess.run(["git", "-C", str(dest), "config", "http.receivepack", "true"], check=True)
        subprocess.run(["git", "-C", str(dest), "update-server-info"], check=True)
        return self.url(name, private)

    # -- request log -----------------------------------------------------

    def requests(self) -> list[Request]:
        """Requests that reached git since the last reset, oldest first."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) != 6:
                continue
            method, path, query, user, t, protocol = parts
            out.append(Request(method, path, query, user, float(t or 0), protocol))
        return out

    def count(self, kind: str | None = None, repo: str | None = None) -> int:
        """How many logged requests match `kind` ('refs', 'fetch', 'v2',
        'push', 'other') and repository name; None matches any."""
        return sum(
            1
            for r in self.requests()
            if (kind is None or r.kind == kind) and (repo is None or r.repo == repo)
        )

    def denied(self) -> int:
        """Requests lighttpd answered with 401 (read from its access log,
        which lighttpd may write with a short delay)."""
        return sum(1 for line in self.access_log_path.read_text(errors="replace").splitlines() if '" 401 ' in line)

    def reset_log(self) -> None:
        self.log_path.write_text("")
