#!/usr/bin/python3
"""Serves git repositories over smart HTTP on 127.0.0.1 for the browser tests
(tests/integration/githttp.py's server), until standard input closes.

    githttp_serve.py ROOT NAME=SOURCE [private:NAME=SOURCE ...]

A `private:` repository is served behind HTTP Basic auth.  Prints one JSON
line: {"base_url": ..., "urls": {NAME: URL}, "username": ..., "password": ...}
(the one login the private area accepts).  Then lines "push NAME SOURCE" on
standard input re-serve NAME from SOURCE."""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration"))
from githttp import GitHttpServer  # noqa: E402


def main():
    root = pathlib.Path(sys.argv[1])
    with GitHttpServer(root) as srv:
        urls = {}
        for spec in sys.argv[2:]:
            name, source = spec.split("=", 1)
            private = name.startswith("private:")
            name = name.removeprefix("private:")
            urls[name] = srv.add_repo(name, source, private=private)
        print(json.dumps({"base_url": srv.base_url, "urls": urls, "username": srv.username,
                          "password": srv.password}), flush=True)
        for line in sys.stdin:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "push":
                srv.add_repo(parts[1], parts[2])
                print("ok", flush=True)


if __name__ == "__main__":
    main()
