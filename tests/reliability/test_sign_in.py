"""Sign-in that cannot be bypassed and cannot be used to lock others out (issue 12): codes found
by a keyed hash (no part stored in clear), wrong codes counted per browser tab and per client
atomically, an empty submit is not a guess, the wait is stated, researchers see and clear
lockouts, and pre-schema-3 databases lose their clear prefixes at the first sign-in."""

import sqlite3
import subprocess
import sys
import time

import pytest

from protoecg.catalog.reader import read_catalog
from protoecg.resources import protocol_path
from protoecg.study import signin
from protoecg.study.codes import code_prefix
from protoecg.study.protocol import load_protocol
from protoecg.study.signin import THROTTLE_LIMITS
from protoecg.study.store import AuthError, ReviewStore
from tests._synthetic_catalog import SMALL, write_synthetic_catalog
from tests.conftest import REPO


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "review.db"
    with ReviewStore(path) as store:
        study = store.create_study("s1", load_protocol(protocol_path()), read_catalog(
            write_synthetic_catalog(tmp_path / "catalog", SMALL)))
        _, code = store.add_reviewer(study, "Dr A", "rater")
    return path, code


def test_an_empty_submit_is_not_a_wrong_code(db):
    path, code = db
    with ReviewStore(path) as store:
        for empty in ("", "   ", "--"):
            with pytest.raises(AuthError, match="enter your access code"):
                signin.authenticate(store, empty, throttle={"session": "t"})
        assert signin.lockouts(store) == [] and store.db["login_failures"].count == 0
        assert signin.authenticate(store, code, throttle={"session": "t"})[1].name == "Dr A"


def test_the_wait_is_stated_and_a_researcher_can_lift_lockouts(db):
    path, code = db
    with ReviewStore(path) as store:
        for _ in range(THROTTLE_LIMITS["session"]):
            with pytest.raises(AuthError):
                signin.authenticate(store, "WRONG-CODE-XX",
                                    throttle={"session": "t", "client": "c"})
        with pytest.raises(AuthError, match=r"try again in (\d+ s|\d+ min)"):
            signin.authenticate(store, code, throttle={"session": "t", "client": "c"})
        locked = signin.lockouts(store)
        assert [entry["key"] for entry in locked] == ["session:t"]
        assert 0 < locked[0]["seconds_left"] <= 300
        # each wrong code was recorded against the tab and the client
        assert signin.clear_lockouts(store, "researcher") == 2 * THROTTLE_LIMITS["session"]
        assert signin.authenticate(store, code, throttle={"session": "t", "client": "c"})


def test_a_correct_code_takes_back_its_provisional_failure(db):
    path, code = db
    with ReviewStore(path) as store:
        for _ in range(20):  # a rater who signs in again and again is never locked out
            signin.authenticate(store, code, throttle={"session": "t"})
        assert store.db["login_failures"].count == 0


GUESSER = """
import os, sys, time
from protoecg.study import signin
from protoecg.study.store import AuthError, ReviewStore
path, index, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with ReviewStore(path, "write") as store:
    while not os.path.exists(go):  # every guesser ready before any guesses
        time.sleep(0.005)
    try:
        signin.authenticate(store, f"GUESS-{index:04d}-XYZ", throttle={"client": "attacker"})
        print("signed in")
    except AuthError as exc:
        print("checked" if "unknown access code" in str(exc) else "refused")
"""


def test_parallel_guessers_get_no_more_checks_than_the_limit(db, tmp_path):
    """50 processes guess at once from one client: counting and recording are one
    transaction, so at most the client limit of guesses is ever checked. (Separate
    interpreters, not multiprocessing: after AppTest has run in this process, spawned children
    would re-import a Streamlit script.)"""
    path, _ = db
    limit = THROTTLE_LIMITS["client"]
    n = limit + 20
    go = tmp_path / "go"
    guessers = [subprocess.Popen([sys.executable, "-c", GUESSER, str(path), str(i), str(go)],
                                 cwd=REPO, stdout=subprocess.PIPE, text=True)
                for i in range(n)]
    time.sleep(3)
    go.write_text("")
    results = [g.communicate(timeout=300)[0].strip() for g in guessers]
    print(f"\n{n} parallel guessers, client limit {limit}: {results.count('checked')} checked, "
          f"{results.count('refused')} refused")
    assert results.count("checked") == limit
    assert results.count("refused") == n - limit
    assert results.count("signed in") == 0


def test_a_pre_schema_3_reviewer_signs_in_and_loses_the_clear_prefix(db):
    path, code = db
    with sqlite3.connect(path) as conn:  # as a database made before code lookups
        conn.execute("UPDATE reviewers SET code_lookup = NULL, code_prefix = ?",
                     [code_prefix(code)])
    conn.close()
    with ReviewStore(path) as store:
        assert signin.authenticate(store, code, throttle={"session": "t"})[1].name == "Dr A"
        row = next(store.db["reviewers"].rows)
        assert row["code_prefix"] is None and row["code_lookup"]
        assert signin.authenticate(store, code, throttle={"session": "t"})[1].name == "Dr A"
