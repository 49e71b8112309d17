"""`protoecg data download` against a local HTTP server on 127.0.0.1 (never the internet)."""

import hashlib
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from protoecg.cli import main
from protoecg.data.download import download, parse_manifest
from protoecg.data.ludb import load_ludb
from protoecg.errors import DownloadError

pytestmark = pytest.mark.slow


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single-range ``Range: bytes=N-`` support (as PhysioNet's server has)."""

    log: list = []
    honour_range = True

    def log_message(self, *args):  # keep test output quiet
        pass

    def send_head(self):
        self.log.append((self.path, self.headers.get("Range")))
        header = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not header or not self.honour_range:
            return super().send_head()
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        except OSError:
            self.send_error(404)
            return None
        size = f.seek(0, 2)
        start = int(header.split("=")[1].split("-")[0])
        if start >= size:
            f.close()
            self.send_error(416)
            return None
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        return f


@pytest.fixture
def mirror(ludb_root, tmp_path):
    """A copy of LUDB served on 127.0.0.1. Its three text files differ from PhysioNet's only
    by line endings (see its ATTRIBUTION.md), so their manifest lines are re-hashed; every
    record file is checked against PhysioNet's own SHA-256."""
    served = tmp_path / "served"
    shutil.copytree(ludb_root, served, ignore=shutil.ignore_patterns("ATTRIBUTION.md"))
    lines = []
    for line in (served / "SHA256SUMS.txt").read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        if "/" not in rel and rel != "RECORDS":
            digest = hashlib.sha256((served / rel).read_bytes()).hexdigest()
        lines.append(f"{digest}  {rel}")
    (served / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")
    RangeHandler.log = []
    RangeHandler.honour_range = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_full_download_verifies_and_loads(mirror, tmp_path, capsys):
    served, url = mirror
    dest = tmp_path / "ludb"
    code = main(["data", "download", "ludb", "--dest", str(dest), "--base-url", url, "--quiet"])
    assert code == 0
    assert "2805 downloaded, 0 resumed, 0 already present" in capsys.readouterr().out
    assert load_ludb(dest, 100).signals.shape == (200, 12, 1000)
    assert not list(dest.rglob("*.part"))
    # a second run fetches nothing
    RangeHandler.log = []
    assert main(["data", "download", "ludb", "--dest", str(dest), "--base-url", url,
                 "--quiet"]) == 0
    assert "0 downloaded, 0 resumed, 2805 already present" in capsys.readouterr().out
    assert [path for path, _ in RangeHandler.log] == ["/SHA256SUMS.txt"]


def test_resumes_a_partial_file(mirror, tmp_path):
    served, url = mirror
    dest = tmp_path / "ludb"
    download("ludb", dest, base_url=url, progress=False)
    whole = (dest / "data/1.dat").read_bytes()
    (dest / "data/1.dat").unlink()
    (dest / "data/1.dat.part").write_bytes(whole[:50_000])
    RangeHandler.log = []
    report = download("ludb", dest, base_url=url, progress=False)
    assert report.resumed == ["data/1.dat"] and report.downloaded == []
    assert ("/data/1.dat", "bytes=50000-") in RangeHandler.log
    assert (dest / "data/1.dat").read_bytes() == whole


def test_server_ignoring_range_restarts_the_file(mirror, tmp_path):
    served, url = mirror
    dest = tmp_path / "ludb"
    download("ludb", dest, base_url=url, progress=False)
    whole = (dest / "data/2.dat").read_bytes()
    (dest / "data/2.dat").unlink()
    (dest / "data/2.dat.part").write_bytes(whole[:1000])
    RangeHandler.honour_range = False
    report = download("ludb", dest, base_url=url, progress=False)
    assert report.downloaded == ["data/2.dat"]
    assert (dest / "data/2.dat").read_bytes() == whole


def test_checksum_mismatch_is_reported_and_the_file_removed(mirror, tmp_path, capsys):
    served, url = mirror
    (served / "data/5.dat").write_bytes(b"corrupted on the server")
    dest = tmp_path / "ludb"
    code = main(["data", "download", "ludb", "--dest", str(dest), "--base-url", url, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "1 of 2805 files failed" in err and "5.dat: SHA-256 mismatch" in err
    assert not (dest / "data/5.dat").exists() and not (dest / "data/5.dat.part").exists()
    assert (dest / "data/4.dat").is_file()  # the verified ones stay


def test_unreachable_server_and_bad_manifest(tmp_path):
    with pytest.raises(DownloadError, match="SHA256SUMS.txt"):
        download("ludb", tmp_path, base_url="http://127.0.0.1:9/", progress=False)
    with pytest.raises(DownloadError, match="unsafe path '../etc/passwd'"):
        parse_manifest("a" * 64 + "  ../etc/passwd\n", "SHA256SUMS.txt")
    with pytest.raises(DownloadError, match="line 1: expected '<sha256> <path>'"):
        parse_manifest("nonsense\n", "SHA256SUMS.txt")


def test_the_demo_downloads_ludb_when_none_is_found(mirror, tmp_path, monkeypatch, capsys):
    from protoecg.commands import demo

    monkeypatch.setattr(demo, "default_ludb", lambda: None)
    served, url = mirror
    found = demo.find_or_fetch_ludb(tmp_path, base_url=url)
    assert found == tmp_path / "ludb" and (found / "RECORDS").is_file()
    assert "downloading LUDB" in capsys.readouterr().out
    # a second demo uses that download without the network
    assert demo.find_or_fetch_ludb(tmp_path, base_url="http://127.0.0.1:9/") == found


def test_the_demo_falls_back_to_synthetic_ecgs_only_when_offline(tmp_path, monkeypatch,
                                                                 capsys):
    from protoecg.commands import demo

    monkeypatch.setattr(demo, "default_ludb", lambda: None)
    # port 9 (discard) on this machine: nothing listens, as when offline
    assert demo.find_or_fetch_ludb(tmp_path, base_url="http://127.0.0.1:9/") is None
    assert "LUDB could not be downloaded" in capsys.readouterr().out
    assert demo.find_or_fetch_ludb(tmp_path, allow_download=False) is None
    assert "--no-download" in capsys.readouterr().out
