"""Shared fixtures. Real data is read from ../shared/data (override: $PROTOECG_SHARED_DATA);
tests that need it skip with the reason when it is absent. Nothing from there is copied into
the repository: PTB-XL-layout fixtures are written to temporary folders from LUDB's signals."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

# One compute thread per pytest-xdist worker (``make test`` runs 2 on 2 cores), set before
# anything imports torch; the tests themselves do not depend on it (issue 30: the suite
# passes with any thread count).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PROTOECG_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Caches of the test run go to a temporary folder, never into data/cache."""
    os.environ["PROTOECG_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real data {name!r} not found at {path} (set PROTOECG_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def ludb_root() -> Path:
    return _shared("ludb")


@pytest.fixture(scope="session")
def ptbxl_subset_root() -> Path:
    return _shared("ptbxl-subset")


@pytest.fixture(scope="session")
def ptbxl_meta_root() -> Path:
    return _shared("ptbxl-meta")


@pytest.fixture(scope="session")
def ludb_500(ludb_root):
    from protoecg.data.ludb import load_ludb

    return load_ludb(ludb_root, 500)


@pytest.fixture(scope="session")
def ludb_100(ludb_root):
    from protoecg.data.ludb import load_ludb

    return load_ludb(ludb_root, 100)


@pytest.fixture(scope="session")
def ludb_layout(ludb_root, tmp_path_factory) -> Path:
    """LUDB written in PTB-XL layout (real signals), shared by the tests that only read it."""
    from protoecg.data.ludb_convert import convert_ludb

    dst = tmp_path_factory.mktemp("ludb-ptbxl") / "layout"
    convert_ludb(ludb_root, dst)
    return dst


@pytest.fixture
def small_layout(ludb_layout, tmp_path) -> Path:
    """A private 4-record PTB-XL-layout folder (LUDB records 1-4) that a test may damage."""
    dst = tmp_path / "ptbxl"
    table = pd.read_csv(ludb_layout / "ptbxl_database.csv").head(4)
    for column in ("filename_lr", "filename_hr"):
        for name in table[column]:
            for ext in (".hea", ".dat"):
                target = dst / f"{name}{ext}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ludb_layout / f"{name}{ext}", target)
    table.to_csv(dst / "ptbxl_database.csv", index=False)
    shutil.copy(ludb_layout / "scp_statements.csv", dst / "scp_statements.csv")
    return dst


@pytest.fixture(scope="session")
def ludb_catalog(ludb_root, tmp_path_factory) -> Path:
    """A prototype catalog from a real (tiny, 1-epoch) ProtoECGNet run on LUDB."""
    from protoecg.cli import main

    run = tmp_path_factory.mktemp("ludb-run") / "run"
    assert main(["train", "--dataset", "ludb", "--root", str(ludb_root), "--preset", "tiny",
                 "--out", str(run), "--epochs", "1", "--quiet"]) == 0
    assert main(["project", "--run", str(run)]) == 0
    return run / "catalog"


PAPER_PROTOCOL = REPO / "study_protocols" / "protoecgnet_clinician_review.toml"


@pytest.fixture(scope="session")
def synthetic_catalog(tmp_path_factory) -> Path:
    """A 33-prototype catalog written directly from synthetic signals (no torch, no training,
    no shared data): what the fast review tests build their studies on. Read-only: copy it
    to damage it."""
    from tests._synthetic_catalog import write_synthetic_catalog

    return write_synthetic_catalog(tmp_path_factory.mktemp("synthetic") / "catalog")


@pytest.fixture(scope="session")
def small_synthetic_catalog(tmp_path_factory) -> Path:
    """The synthetic catalog with 2 prototypes per class (16) and one neighbour each (fewer
    charts per card): what the app tests rate."""
    from tests._synthetic_catalog import SMALL, write_synthetic_catalog

    return write_synthetic_catalog(tmp_path_factory.mktemp("synthetic-small") / "catalog",
                                   SMALL, n_neighbours=1)
