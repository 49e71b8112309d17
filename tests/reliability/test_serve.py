"""``review serve`` (issue 12): a busy port is refused before anything is printed, and the
server is this process, so stopping it frees the port (no orphan Streamlit keeps it)."""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from protoecg.catalog.reader import read_catalog
from protoecg.resources import protocol_path
from protoecg.study.protocol import load_protocol
from protoecg.study.store import ReviewStore
from tests._synthetic_catalog import SMALL, write_synthetic_catalog
from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "review.db"
    with ReviewStore(path) as store:
        store.create_study("s1", load_protocol(protocol_path()), read_catalog(
            write_synthetic_catalog(tmp_path / "catalog", SMALL)))
    return path


def serve(db, port):
    return [sys.executable, "-m", "protoecg", "review", "serve", "--db", str(db), "--port",
            str(port)]


def test_a_busy_port_is_refused_before_anything_is_printed(db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(serve(db, port), capture_output=True, text=True, cwd=REPO,
                                timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"protoecg: error: --port {port}: already in use on 127.0.0.1 "
                             "(another review app?); choose another port\n")


def test_stopping_serve_stops_the_server_and_frees_the_port(db):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(serve(db, port), cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("the review app did not start within 90 s")
    finally:
        process.terminate()
        process.wait(20)
    time.sleep(0.5)
    # Free at once: nothing of the server is left listening. SO_REUSEADDR as a server restarting
    # would set it: the health check's closed connection may sit in TIME_WAIT, which blocks a
    # plain bind but not a new server; a socket still listening blocks both.
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()
