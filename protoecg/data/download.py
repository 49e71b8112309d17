"""Download LUDB or PTB-XL from PhysioNet, resumably, verifying every file's SHA-256.

PhysioNet publishes ``SHA256SUMS.txt`` at the root of each project version; we fetch it first and
then every file it lists. A file already present with the right hash is skipped; a partial
``.part`` file is resumed with an HTTP Range request (a server that ignores Range sends the whole
file again, which we detect from the 200 status and restart). A file whose hash does not match
is deleted and reported. This is the only code in ProtoECG Review that touches the network, and
only when the user runs ``protoecg data download``.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from protoecg.errors import DownloadError

SOURCES = {
    "ludb": "https://physionet.org/files/ludb/1.0.1/",
    "ptbxl": "https://physionet.org/files/ptb-xl/1.0.3/",
}
MANIFEST = "SHA256SUMS.txt"
CHUNK = 1 << 20
TIMEOUT_S = 60


@dataclass
class DownloadReport:
    downloaded: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"downloaded": len(self.downloaded), "already_present": len(self.already_present),
                "resumed": len(self.resumed), "failed": self.failed}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_manifest(text: str, source: str) -> list[tuple[str, str]]:
    """(sha256, relative path) pairs; rejects paths that would escape the destination."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DownloadError(f"{source} line {number}: expected '<sha256> <path>', got {line!r}")
        digest, rel = parts[0].lower(), parts[1].strip().lstrip("*")
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            raise DownloadError(f"{source} line {number}: unsafe path {rel!r}")
        entries.append((digest, rel))
    if not entries:
        raise DownloadError(f"{source}: empty checksum list")
    return entries


def _fetch(url: str, target: Path, expected: str) -> str:
    """Fetch one file into place; returns 'downloaded' or 'resumed'. Raises DownloadError."""
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            resumed = offset > 0 and response.status == 206
            mode = "ab" if resumed else "wb"
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(part, mode) as f:
                for block in iter(lambda: response.read(CHUNK), b""):
                    f.write(block)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to fetch: the part may already be whole
            resumed = True
        else:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DownloadError(f"{url}: {getattr(exc, 'reason', exc)} (run again to resume)") from None
    actual = sha256_of(part)
    if actual != expected:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{target.name}: SHA-256 mismatch (expected {expected[:12]}…, "
                            f"got {actual[:12]}…); the file was deleted, run again to retry")
    os.replace(part, target)
    return "resumed" if resumed else "downloaded"


def download(name: str, dest: str | Path, *, base_url: str | None = None, workers: int = 4,
             progress: bool = True) -> DownloadReport:
    """Download dataset ``name`` (``ludb`` or ``ptbxl``) into ``dest``.

    Raises DownloadError listing the files that failed (the others stay, verified, so a second
    run only fetches what is missing).
    """
    if name not in SOURCES:
        raise DownloadError(f"unknown dataset {name!r}: expected one of {', '.join(SOURCES)}")
    base = (base_url or SOURCES[name]).rstrip("/") + "/"
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    manifest_url = base + MANIFEST
    try:
        with urllib.request.urlopen(manifest_url, timeout=TIMEOUT_S) as response:
            manifest = response.read().decode("utf-8")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DownloadError(f"{manifest_url}: {getattr(exc, 'reason', exc)}") from None
    entries = parse_manifest(manifest, manifest_url)
    (dest / MANIFEST).write_text(manifest)

    report = DownloadReport()
    todo = []
    for digest, rel in entries:
        target = dest / rel
        if target.is_file() and sha256_of(target) == digest:
            report.already_present.append(rel)
        else:
            todo.append((digest, rel))

    def job(entry: tuple[str, str]) -> tuple[str, str]:
        digest, rel = entry
        try:
            return rel, _fetch(base + rel, dest / rel, digest)
        except DownloadError as exc:
            return rel, f"failed: {exc}"

    with ThreadPoolExecutor(max(1, workers)) as pool:
        for rel, outcome in tqdm(pool.map(job, todo), total=len(todo), unit="file",
                                 desc=f"downloading {name}", disable=not progress):
            if outcome == "downloaded":
                report.downloaded.append(rel)
            elif outcome == "resumed":
                report.resumed.append(rel)
            else:
                report.failed[rel] = outcome.removeprefix("failed: ")
    if report.failed:
        first = next(iter(report.failed.values()))
        raise DownloadError(
            f"{len(report.failed)} of {len(entries)} files failed (first: {first}); "
            f"{len(entries) - len(report.failed)} are in {dest} and verified"
        )
    return report
