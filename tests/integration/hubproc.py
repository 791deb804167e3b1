"""Start the real `coursehub serve` on 127.0.0.1 with a temporary prefix, and
talk to it as a browser or an API client would.

Reusable by every integration test (spawner, git-pull, env manager...):

    from hubproc import Hub

    def test_something(tmp_path):
        with Hub(tmp_path, config={"auth": {"type": "firstuse"}}) as hub:
            hub.add_user("teacher", "Teacher-Pass-1", admin=True)    # CLI, before or while running
            browser = hub.login("teacher", "Teacher-Pass-1")         # requests.Session with cookies
            r = browser.get(hub.url + "hub/home")
            api = hub.api_client(hub.token("teacher"))               # Authorization: token ...
            assert api.get(hub.url + "hub/api/user").json()["name"] == "teacher"
            r = hub.post_form(browser, "hub/admin/users/add", {"username": "bob"})  # adds _xsrf

Facts the fixture relies on (documented in README "Running the hub"):
  * `coursehub serve --ip 127.0.0.1 --port 0` binds a free port and prints
    `coursehub: listening on http://127.0.0.1:PORT/` (base_url included) on stdout.
  * P/state/hub.pid holds the pid of the running hub; SIGTERM stops it
    gracefully, SIGHUP reloads P/config/config.yaml.
  * Logs (one line per request) go to stderr; here both streams go to
    `hub.log_path` (read it with hub.log()).

`config` is written to P/config/config.yaml (JSON is valid YAML).  Waits are
generous (loaded 2-core machines) and never fixed sleeps.
"""
import json
import os
import pathlib
import re
import signal
import subprocess
import time

import requests

SOURCE = pathlib.Path(os.environ.get("COURSEHUB_SOURCE", pathlib.Path(__file__).resolve().parents[2]))
BIN = pathlib.Path(os.environ.get("COURSEHUB_BIN", SOURCE / "build" / "coursehub"))

LISTENING = re.compile(r"coursehub: listening on (https?://[^\s]+)")


class HubError(RuntimeError):
    pass


class Hub:
    def __init__(self, tmp_path, config=None, env=None, start_timeout=60, extra_args=()):
        self.root = pathlib.Path(tmp_path)
        self.prefix = self.root / "prefix"
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.log_path = self.root / "hub.log"
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.start_timeout = start_timeout
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None
        self.port = None
        if config is not None:
            self.write_config(config)

    # -- life cycle ---------------------------------------------------------
    def write_config(self, config):
        path = self.prefix / "config" / "config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2) + "\n")

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "hub already running"
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        cmd = [str(BIN), "serve", "--prefix", str(self.prefix), "--ip", "127.0.0.1", "--port", "0", *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode("utf-8", "replace")
            m = LISTENING.search(text)
            if m:
                self.url = m.group(1)
                if not self.url.endswith("/"):
                    self.url += "/"
                self.port = int(re.search(r":(\d+)/", self.url).group(1))
                return self
            if self.proc.poll() is not None:
                raise HubError(f"coursehub serve exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        raise HubError(f"coursehub serve did not report its URL within {self.start_timeout}s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stops the hub (SIGTERM: graceful) and returns its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise HubError(f"coursehub serve did not stop within {timeout}s after signal {sig}")

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def reload(self, wait_for="configuration reloaded", timeout=30):
        """Sends SIGHUP and waits until the hub logged the outcome."""
        before = self.log().count(wait_for)
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for_log(wait_for, count=before + 1, timeout=timeout)

    def wait_for_log(self, text, count=1, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return
            time.sleep(0.05)
        raise HubError(f"'{text}' did not appear in the hub's log:\n{self.log()}")

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- CLI ------------------------------------------------------------------
    def cli(self, *args, input=None, check=True):
        """Runs `coursehub ARGS --prefix P`; returns the CompletedProcess."""
        r = subprocess.run([str(BIN), *args, "--prefix", str(self.prefix)], input=input, capture_output=True,
                           text=True, env=self.env, timeout=120)
        if check and r.returncode != 0:
            raise HubError(f"coursehub {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def add_user(self, name, password=None, admin=False):
        args = ["user", "add", name]
        if admin:
            args.append("--admin")
        if password is not None:
            args.append("--password-stdin")
        self.cli(*args, input=(password + "\n") if password is not None else None)

    def token(self, name, note=None):
        args = ["token", "create", name]
        if note:
            args += ["--note", note]
        return self.cli(*args).stdout.strip()

    # -- HTTP -----------------------------------------------------------------
    def browser(self):
        """A cookie-keeping client that does not follow redirects on its own."""
        s = requests.Session()
        s.verify = False
        return s

    def xsrf(self, session):
        """The session's _xsrf cookie, fetching the login page first if needed."""
        token = session.cookies.get("_xsrf")
        if not token:
            session.get(self.url + "hub/login", allow_redirects=False, timeout=30)
            token = session.cookies.get("_xsrf")
        assert token, "the hub did not set an _xsrf cookie"
        return token

    def post_form(self, session, path, fields, xsrf=True, **kw):
        data = dict(fields)
        if xsrf:
            data["_xsrf"] = self.xsrf(session)
        return session.post(self.url + path.lstrip("/"), data=data, allow_redirects=False, timeout=60, **kw)

    def login(self, name, password, next_path=None, expect_ok=True):
        """Logs in through the form; returns the session (cookies set)."""
        s = self.browser()
        path = "hub/login" + (f"?next={requests.utils.quote(next_path, safe='')}" if next_path else "")
        r = self.post_form(s, path, {"username": name, "password": password})
        if expect_ok and r.status_code != 302:
            raise HubError(f"login of {name} failed: {r.status_code}\n{r.text[:2000]}")
        s.last_response = r
        return s

    def api_client(self, token):
        s = requests.Session()
        s.headers["Authorization"] = f"token {token}"
        return s

    def api(self, method, path, token=None, session=None, **kw):
        """One API call: with a token, or with a browser session (+ X-XSRFToken)."""
        s = session or requests.Session()
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"token {token}"
        if session is not None and "X-XSRFToken" not in headers:
            headers["X-XSRFToken"] = self.xsrf(session)
        return s.request(method, self.url + "hub/api/" + path.lstrip("/"), headers=headers, allow_redirects=False,
                         timeout=60, **kw)
