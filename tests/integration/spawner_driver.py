"""The spawner library driven through build/spawner_driver, a stand-in for
the hub process: one JSON answer per command line."""
import json
import os
import pathlib
import signal
import subprocess

from conftest import BIN

DRIVER = pathlib.Path(os.environ.get("SPAWNER_DRIVER", BIN.parent / "spawner_driver"))


class Driver:
    def __init__(self, prefix, *args):
        assert DRIVER.exists(), f"build the spawner driver first: {DRIVER} is missing"
        self.proc = subprocess.Popen(
            [str(DRIVER), "--prefix", str(prefix), *map(str, args)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        hello = self._read()
        assert hello == {"ready": True}, hello

    def _read(self):
        line = self.proc.stdout.readline()
        assert line, f"spawner_driver exited with {self.proc.wait()}"
        return json.loads(line)

    def __call__(self, *words):
        self.proc.stdin.write(" ".join(map(str, words)) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def start_and_wait(self, name, admin=False, timeout_ms=180000):
        assert self("start", name, *(["admin"] if admin else []))["started"]
        return self("wait", name, timeout_ms)

    def kill9(self):
        """The hub crashes: no cleanup of any kind."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def quit(self):
        if self.proc.poll() is None:
            try:
                self("quit")
            except (AssertionError, BrokenPipeError, ValueError):
                pass
            self.proc.wait(timeout=60)
