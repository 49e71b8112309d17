"""``protoecg review serve``: start the Streamlit review app on a database."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from protoecg.resources import review_app_path
from protoecg.study.store import ReviewStore, StoreError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, help="review database (SQLite file)")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")


def run(args: argparse.Namespace) -> int:
    if not Path(args.db).is_file():
        raise StoreError(f"{args.db}: no such review database (create one with "
                         "`protoecg study create --db …`)")
    with ReviewStore(args.db, "write") as store:  # check (and migrate) before serving
        names = [s.name for s in store.studies()]
    app = review_app_path()
    print(f"serving {len(names)} stud{'y' if len(names) == 1 else 'ies'} "
          f"({', '.join(names) or 'none yet'}) on http://{args.address}:{args.port}")
    env = {**os.environ, "PROTOECG_REVIEW_DB": str(Path(args.db).resolve())}
    command = [sys.executable, "-m", "streamlit", "run", str(app),
               "--server.port", str(args.port), "--server.address", args.address,
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    return subprocess.call(command, env=env)
