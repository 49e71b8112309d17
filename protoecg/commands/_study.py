"""Shared argument handling of the ``protoecg study …`` commands."""

from __future__ import annotations

import argparse

from protoecg.study.store import ReviewStore


def add_db(parser: argparse.ArgumentParser, study: bool = True) -> None:
    parser.add_argument("--db", required=True, help="review database (SQLite file)")
    if study:
        parser.add_argument("--study", required=True, help="study name")


def open_study(args: argparse.Namespace, mode: str = "write"):
    store = ReviewStore(args.db, mode)
    return store, store.study(args.study)
