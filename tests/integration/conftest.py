"""Shared pytest fixtures for integration tests against the real binary.

Fixture modules live next to this file (one per real part: the git HTTP
server, the running hub, the package index, ...) and are imported by tests.
"""
import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

SOURCE = pathlib.Path(os.environ.get("COURSEHUB_SOURCE", pathlib.Path(__file__).resolve().parents[2]))
BIN = pathlib.Path(os.environ.get("COURSEHUB_BIN", SOURCE / "build" / "coursehub"))


@pytest.fixture(scope="session")
def coursehub_bin():
    assert BIN.exists(), f"build coursehub first: {BIN} is missing"
    return BIN
