"""Shared argument handling of the ``protoecg study …`` commands."""

from __future__ import annotations

import argparse

from protoecg.study.store import ReviewStore, StoreError


def add_db(parser: argparse.ArgumentParser, study: bool = True) -> None:
    parser.add_argument("--db", required=True, help="review database (SQLite file)")
    if study:
        parser.add_argument("--study", required=True, help="study name")


def open_study(args: argparse.Namespace, mode: str = "write"):
    """The store and the rating study ``--study`` (a comparison study is refused: these
    commands rate prototypes)."""
    store = ReviewStore(args.db, mode)
    try:
        return store, store.study(args.study, kind="rating")
    except StoreError:
        store.close()
        raise
