"""``protoecg review serve``: start the Streamlit review app on a database."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path

from protoecg.resources import review_app_path
from protoecg.study.store import ReviewStore, StoreError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, help="review database (SQLite file)")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--trusted-proxy", metavar="ADDRESS",
                        help="the reverse proxy in front of the app: only connections from it "
                             "may name the client in X-Forwarded-For (sign-in throttling is "
                             "per client); without it the header is ignored")


def _port_is_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def run(args: argparse.Namespace) -> int:
    if not Path(args.db).is_file():
        raise StoreError(f"{args.db}: no such review database (create one with "
                         "`protoecg study create --db …`)")
    if args.trusted_proxy:
        try:
            ipaddress.ip_address(args.trusted_proxy)
        except ValueError:
            raise StoreError(f"--trusted-proxy: expected an IP address, got "
                             f"{args.trusted_proxy!r}") from None
    if not _port_is_free(args.address, args.port):
        raise StoreError(f"--port {args.port}: already in use on {args.address} (another "
                         "review app?); choose another port")
    with ReviewStore(args.db, "write") as store:  # check (and migrate) before serving
        names = [s.name for s in store.studies()]
    app = review_app_path()
    print(f"serving {len(names)} stud{'y' if len(names) == 1 else 'ies'} "
          f"({', '.join(names) or 'none yet'}) on http://{args.address}:{args.port}")
    env = {**os.environ, "PROTOECG_REVIEW_DB": str(Path(args.db).resolve())}
    env.pop("PROTOECG_TRUSTED_PROXY", None)
    if args.trusted_proxy:
        env["PROTOECG_TRUSTED_PROXY"] = args.trusted_proxy
    command = [sys.executable, "-m", "streamlit", "run", str(app),
               "--server.port", str(args.port), "--server.address", args.address,
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               # a product for clinicians: no Deploy button or developer menu, no tracebacks
               # in the page, no watching of the app's files
               "--client.toolbarMode", "minimal", "--client.showErrorDetails", "none",
               "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    sys.stdout.flush()
    # this process becomes the server: stopping it (Ctrl-C, kill) stops Streamlit, and no
    # orphan keeps the port
    os.execvpe(command[0], command, env)
