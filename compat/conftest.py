import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from harness import Server  # noqa: E402


@pytest.fixture
def server():
    s = Server().start()
    yield s
    s.close()


@pytest.fixture(scope="module")
def shared_server():
    """One server for read-mostly tests of a module (faster than one per test)."""
    s = Server().start()
    yield s
    s.close()
