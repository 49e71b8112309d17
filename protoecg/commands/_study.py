"""Shared argument handling of the ``protoecg study …`` commands."""

from __future__ import annotations

import argparse

from protoecg.study.store import ReviewStore, StoreError


def add_db(parser: argparse.ArgumentParser, study: bool = True) -> None:
    parser.add_argument("--db", required=True, help="review database (SQLite file)")
    if study:
        parser.add_argument("--study", required=True, help="study name")


def open_study(args: argparse.Namespace, mode: str = "write", kind: str | None = "rating"):
    """The store and the study ``--study`` (of ``kind``: most study commands work on
    prototype rating studies; None for those that serve both kinds, e.g. reviewers)."""
    store = ReviewStore(args.db, mode)
    try:
        return store, store.study(args.study, kind=kind)
    except StoreError:
        store.close()
        raise
