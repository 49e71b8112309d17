"""The package is whole without the checkout: a wheel carries the review app, the study protocols
and the presets, and `protoecg review serve` serves the app from an installed copy."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # built from a copy of the sources: setuptools writes build/ into the tree it builds
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("protoecg", "review_app", "study_protocols"):
        shutil.copytree(REPO / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return next(out.glob("protoecg-*.whl"))


def test_wheel_carries_the_app_protocols_and_presets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("review_app/app.py", "review_app/README.md", "review_app/common.py",
                     "review_app/app_pages/rate.py", "review_app/app_pages/keyboard.js",
                     "review_app/app_pages/signin.py",
                     "study_protocols/protoecgnet_clinician_review.toml",
                     "study_protocols/README.md", "protoecg/train/presets/tiny.toml",
                     "protoecg/data/scp_statements.csv", "protoecg/resources.py"):
        assert required in names, f"{required} missing from {wheel.name}"
    assert not any(n.startswith(("tests/", "benchmarks/", "data/")) for n in names)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_installed_copy_serves_the_review_app(wheel, tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
         str(wheel)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # the installed copy first on the path, run from a folder that is not the checkout
    env = {**os.environ, "PYTHONPATH": str(site)}
    check = subprocess.run(
        [sys.executable, "-c", "import protoecg, protoecg.resources as r; "
         "print(protoecg.__file__); print(r.review_app_path()); print(r.protocol_path())"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert all(line.startswith(str(site)) for line in check.stdout.splitlines())

    db = elsewhere / "review.db"
    created = subprocess.run(
        [sys.executable, "-c", "from protoecg.study.store import ReviewStore\n"
         f"ReviewStore({str(db)!r}).close()"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    # the installed app itself runs: its sign-in page, from the installed files
    apptest = subprocess.run(
        [sys.executable, "-c", "import protoecg.resources as r\n"
         "from streamlit.testing.v1 import AppTest\n"
         "at = AppTest.from_file(str(r.review_app_path()))\n"
         "at.run(timeout=60)\n"
         "assert not at.exception, at.exception\n"
         "print(r.review_app_path(), [w.label for w in at.text_input])\n"],
        cwd=elsewhere, env={**env, "PROTOECG_REVIEW_DB": str(db)}, capture_output=True,
        text=True, timeout=120)
    assert apptest.returncode == 0, apptest.stderr
    assert apptest.stdout.startswith(str(site)) and "code" in apptest.stdout.lower()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "protoecg", "review", "serve", "--db", str(db), "--port",
         str(port)], cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                            timeout=2) as response:
                    assert response.read() == b"ok"
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the app did not come up in 60 s"
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert b"<html" in response.read().lower()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
