"""Signal cache: one memory-mapped ``.npy`` per dataset folder, sampling rate and file list.

Reading 21,799 WFDB records takes minutes; loading the cached array takes well under a second
(it is memory-mapped, so pages are read only when a batch touches them). The cache key is a
SHA-256 over the ordered list of record files with their sizes and modification times, so any
change to the records, their order or the options builds a new cache instead of serving a stale
one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$PROTOECG_CACHE_DIR``, else ``data/cache`` of this checkout, else ``~/.cache/protoecg``."""
    env = os.environ.get("PROTOECG_CACHE_DIR")
    if env:
        return Path(env)
    checkout_data = Path(__file__).resolve().parents[2] / "data"
    if (checkout_data / "README.md").is_file():
        return checkout_data / "cache"
    return Path.home() / ".cache" / "protoecg"


def cache_key(record_files: list[Path], **options) -> str:
    """Key over the files (name, size, mtime) and the options that shape the array."""
    described = json.dumps({"format": CACHE_FORMAT, **options}, sort_keys=True)
    digest = hashlib.sha256(described.encode())
    for path in record_files:
        try:
            stat = path.stat()
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}|missing\n".encode())
    return digest.hexdigest()


def cache_paths(cache_dir: Path, prefix: str, key: str) -> tuple[Path, Path]:
    stem = cache_dir / f"{prefix}-{key[:20]}"
    return stem.with_suffix(".npy"), stem.with_suffix(".json")


def load_cached(cache_dir: Path, prefix: str, key: str) -> tuple[np.ndarray, dict] | None:
    """The memory-mapped array and its sidecar, or None if this key was never cached."""
    array_path, meta_path = cache_paths(cache_dir, prefix, key)
    if not (array_path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        array = np.load(array_path, mmap_mode="r")
    except (OSError, ValueError):
        return None  # a damaged cache is rebuilt, never trusted
    if meta.get("key") != key or array.shape[0] != len(meta.get("record_ids", [])):
        return None
    return array, meta


def open_cache_array(cache_dir: Path, prefix: str, key: str, shape: tuple[int, ...]) -> np.memmap:
    """A writable memory-mapped array at a temporary path; ``commit_cache`` publishes it."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    array_path, _ = cache_paths(cache_dir, prefix, key)
    tmp = array_path.with_suffix(f".tmp{os.getpid()}.npy")
    return np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)


def commit_cache(
    cache_dir: Path, prefix: str, key: str, array: np.memmap, n_rows: int, meta: dict
) -> None:
    """Flush, trim to the rows actually filled, and atomically rename into place."""
    array_path, meta_path = cache_paths(cache_dir, prefix, key)
    tmp = Path(array.filename)
    array.flush()
    if n_rows != array.shape[0]:
        trimmed_tmp = tmp.with_suffix(".trim.npy")
        trimmed = np.lib.format.open_memmap(
            trimmed_tmp, mode="w+", dtype=np.float32, shape=(n_rows, *array.shape[1:])
        )
        trimmed[:] = array[:n_rows]
        trimmed.flush()
        del trimmed
        tmp.unlink()
        tmp = trimmed_tmp
    del array
    meta_tmp = meta_path.with_suffix(f".tmp{os.getpid()}")
    meta_tmp.write_text(json.dumps({**meta, "key": key}))
    os.replace(tmp, array_path)
    os.replace(meta_tmp, meta_path)


def discard(array: np.memmap) -> None:
    """Remove a half-built cache array after an error."""
    path = Path(array.filename)
    del array
    path.unlink(missing_ok=True)
