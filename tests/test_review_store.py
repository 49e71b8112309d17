"""The review store, its rules and its commands, on the synthetic catalog (fast; the
commands end to end also on a catalog from a real LUDB run)."""

import json
import shutil
import sqlite3
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from protoecg.catalog.reader import CatalogError, read_catalog
from protoecg.cli import main
from protoecg.study import answers, signin
from protoecg.study.assignment import assign
from protoecg.study.protocol import load_protocol
from protoecg.study.ratings_csv import export_ratings, import_ratings
from protoecg.study.schema import current_version
from protoecg.study.store import AuthError, ReviewStore, StoreError
from tests.conftest import PAPER_PROTOCOL


@pytest.fixture
def catalog(synthetic_catalog, tmp_path):
    """A private copy, so a test may move or damage it."""
    return read_catalog(shutil.copytree(synthetic_catalog, tmp_path / "catalog"))


@pytest.fixture(scope="module")
def pilot_db(synthetic_catalog, tmp_path_factory):
    """The pilot study (4 raters and a researcher, assigned), built once (access codes are
    scrypt-hashed: slow on purpose) and copied for each test. Its catalog folder is deleted
    once the study exists: every test runs on a study that outlived its run folder."""
    folder = tmp_path_factory.mktemp("pilot")
    source = shutil.copytree(synthetic_catalog, folder / "catalog")
    with ReviewStore(folder / "review.db") as store:
        study = store.create_study("pilot", load_protocol(PAPER_PROTOCOL), read_catalog(source))
        for name in ("ana", "ben", "cai", "dee"):
            store.add_reviewer(study, name, "rater")
        store.add_reviewer(study, "rhea", "researcher")
        assign(store, study)
    shutil.rmtree(source)
    return folder / "review.db"


@pytest.fixture
def store(pilot_db, tmp_path):
    with ReviewStore(shutil.copy(pilot_db, tmp_path / "review.db")) as s:
        yield s


@pytest.fixture
def study(store):
    return store.study("pilot")


def rater(store, study, name):
    return store.reviewer(study, name)


def answer(store, study, name, k=0, **values):
    reviewer = rater(store, study, name)
    item = answers.queue(store, reviewer)[k]
    answers.save_answers(store, reviewer, item.prototype_id,
                         values or {"representativeness": 4, "clarity": 3})
    return item.prototype_id


def table_counts(store):
    return {t: store.db[t].count for t in store.db.table_names()}


# ---------------------------------------------------------------- studies
def test_study_snapshots_the_catalog(store, study, catalog, tmp_path):
    assert store.db["prototypes"].count == len(catalog.prototypes)
    row = json.loads(next(store.db["prototypes"].rows)["row_json"])
    assert row["prototype_id"] == catalog.prototypes.iloc[0]["prototype_id"]
    assert len(row["neighbours"]) >= 1
    index = int(row["signal_index"])
    np.testing.assert_array_equal(store.signal(study, index), catalog.signal(index))
    # the study survives its run folder moving away
    shutil.rmtree(catalog.path)
    reviewer = rater(store, study, "ana")
    item = answers.queue(store, reviewer)[0]
    card = answers.card(store, reviewer, item.prototype_id)
    assert card["prototype"]["prototype_id"] == item.prototype_id
    assert store.signal(study, card["prototype"]["signal_index"]).shape == (12, 1000)


def test_duplicate_study_and_bad_catalog(store, study, catalog, tmp_path):
    before = table_counts(store)
    with pytest.raises(StoreError, match="study 'pilot' already exists"):
        store.create_study("pilot", load_protocol(PAPER_PROTOCOL), catalog)
    broken = shutil.copytree(catalog.path, tmp_path / "broken")
    table = pd.read_csv(broken / "prototypes.csv").drop(columns=["window_start", "class_code"])
    table.to_csv(broken / "prototypes.csv", index=False)
    with pytest.raises(CatalogError, match=r"missing column\(s\) class_code, window_start"):
        read_catalog(broken)
    assert table_counts(store) == before


# -------------------------------------------------------------- reviewers
def test_codes_are_shown_once_and_stored_hashed(store, study, tmp_path):
    reviewer, code = store.add_reviewer(study, "eve", "rater")
    assert len(code) == 14 and code.count("-") == 2
    found_study, found = signin.authenticate(store, code)
    assert (found_study.name, found.name, found.role) == ("pilot", "eve", "rater")
    assert signin.authenticate(store, code.lower().replace("-", ""))[1].name == "eve"
    raw = (tmp_path / "review.db").read_bytes() + (tmp_path / "review.db-wal").read_bytes()
    assert code.encode() not in raw and code.replace("-", "").encode() not in raw
    # not even a part of it: no 4-character piece of the code is stored in clear
    plain = code.replace("-", "")
    assert not any(plain[i:i + 4].encode() in raw for i in range(len(plain) - 3))


def test_wrong_codes_are_refused_and_throttled(store, study):
    _, code = store.add_reviewer(study, "eve", "rater")
    tab1 = {"session": "tab-1", "client": "10.0.0.7"}
    for _ in range(5):
        with pytest.raises(AuthError, match="unknown access code"):
            signin.authenticate(store, "AAAA-BBBB-CCCC", throttle=tab1)
    with pytest.raises(AuthError, match=r"too many wrong codes; try again in \d+ min"):
        signin.authenticate(store, code, throttle=tab1)  # even the right one, for now
    # a colleague's tab behind the same address is not locked out
    tab2 = {"session": "tab-2", "client": "10.0.0.7"}
    assert signin.authenticate(store, code, throttle=tab2)[1].name == "eve"


def test_reviewer_rules(store, study):
    before = table_counts(store)
    with pytest.raises(StoreError, match="already has a reviewer named 'ana'"):
        store.add_reviewer(study, "ana", "rater")
    with pytest.raises(StoreError, match="role must be one of rater, researcher"):
        store.add_reviewer(study, "zed", "admin")
    _, code = store.add_reviewer(study, "fay", "rater", code="WARD-SEVEN-42")
    with pytest.raises(AuthError, match="already in use"):
        store.add_reviewer(study, "gus", "rater", code="ward-seven-42")
    assert table_counts(store)["reviewers"] == before["reviewers"] + 1


# ------------------------------------------------------------- assignment
def test_every_prototype_gets_k_raters_balanced(store, study):
    rows = list(store.db["assignments"].rows)
    per_prototype = Counter(r["prototype_pk"] for r in rows)
    assert set(per_prototype.values()) == {3}
    assert len(per_prototype) == store.db["prototypes"].count
    load = Counter(r["reviewer_id"] for r in rows)
    assert max(load.values()) - min(load.values()) <= 1
    assert len({(r["reviewer_id"], r["prototype_pk"]) for r in rows}) == len(rows)


def test_assignment_is_reproducible(store, study, catalog, tmp_path):
    with ReviewStore(tmp_path / "other.db") as other:
        twin = other.create_study("pilot", load_protocol(PAPER_PROTOCOL), catalog)
        for name in ("ana", "ben", "cai", "dee"):
            other.add_reviewer(twin, name, "rater")
        assign(other, twin)
        for name in ("ana", "dee"):
            a = [i.prototype_id for i in answers.queue(store, rater(store, study, name))]
            b = [i.prototype_id for i in answers.queue(other, other.reviewer(twin, name))]
            assert a == b


def test_queue_is_grouped_by_class_in_a_seeded_order(store, study):
    items = answers.queue(store, rater(store, study, "ana"))
    classes = [i.class_code for i in items]
    # grouped: each class appears as one contiguous run
    runs = [c for i, c in enumerate(classes) if i == 0 or classes[i - 1] != c]
    assert len(runs) == len(set(classes))
    other = [i.class_code for i in answers.queue(store, rater(store, study, "ben"))]
    assert classes != other  # each rater has an order of their own


def test_adding_a_rater_extends_without_reshuffling_rated_work(store, study):
    rated = {name: answer(store, study, name) for name in ("ana", "ben")}
    before = {(r["reviewer_id"], r["prototype_pk"]) for r in store.db["assignments"].rows}
    store.add_reviewer(study, "eve", "rater")
    result = assign(store, study)
    after = {(r["reviewer_id"], r["prototype_pk"]) for r in store.db["assignments"].rows}
    for name, pid in rated.items():
        pair = (rater(store, study, name).id, store.prototype_pk(study, pid))
        assert pair in before and pair in after
    eve = rater(store, study, "eve")
    assert sum(1 for rid, _ in after if rid == eve.id) > 0
    assert result["added"] > 0
    assert set(Counter(pk for _, pk in after).values()) == {3}
    assert assign(store, study)["added"] == 0  # idempotent


# ---------------------------------------------------------------- answers
def test_answers_are_revisions_and_history_stays(store, study):
    ana = rater(store, study, "ana")
    pid = answers.queue(store, ana)[0].prototype_id
    assert answers.save_answers(store, ana, pid, {"representativeness": 2, "clarity": 5}) == 2
    assert answers.save_answers(store, ana, pid, {"representativeness": 2, "clarity": 5}) == 0
    assert answers.save_answers(store, ana, pid, {"representativeness": 4, "best": True,
                                                 "comment": "<b>typical</b> rSR'"}) == 3
    assert answers.card(store, ana, pid)["answers"] == {
        "representativeness": 4, "clarity": 5, "best": True, "comment": "<b>typical</b> rSR'"}
    history = [r["value"] for r in store.db["ratings"].rows_where(
        "question = 'representativeness'", order_by="revision")]
    assert history == [2, 4]
    assert answers.queue(store, ana)[0].complete
    assert answers.progress(store, ana) == (1, len(answers.queue(store, ana)))


def test_bad_answers_leave_the_database_unchanged(store, study):
    ana = rater(store, study, "ana")
    pid = answers.queue(store, ana)[0].prototype_id
    before = table_counts(store)
    with pytest.raises(StoreError, match=r"must be one of \[1, 2, 3, 4, 5\].*got 6"):
        answers.save_answers(store, ana, pid, {"representativeness": 3, "clarity": 6})
    with pytest.raises(StoreError, match="unknown question 'beauty'"):
        answers.save_answers(store, ana, pid, {"beauty": 3})
    not_ana = next(p for p in (r["prototype_id"] for r in store.db["prototypes"].rows)
                   if p not in {i.prototype_id for i in answers.queue(store, ana)})
    with pytest.raises(AuthError, match="is not assigned"):
        answers.save_answers(store, ana, not_ana, {"clarity": 3})
    with pytest.raises(AuthError, match="only raters answer"):
        answers.save_answers(store, rater(store, study, "rhea"), pid, {"clarity": 3})
    assert table_counts(store) == before


def test_blinding(store, study):
    ana, ben = rater(store, study, "ana"), rater(store, study, "ben")
    shared = next(i.prototype_id for i in answers.queue(store, ana)
                  if i.prototype_id in {j.prototype_id for j in answers.queue(store, ben)})
    answers.save_answers(store, ana, shared, {"representativeness": 1, "comment": "noisy"})
    card = answers.card(store, ben, shared)
    assert card["answers"] == {}  # ben never sees ana's answers
    assert "similarity" not in card["prototype"]
    assert all("similarity" not in n for n in card["prototype"]["neighbours"])
    researcher = answers.card(store, rater(store, study, "rhea"), shared)
    assert "similarity" in researcher["prototype"]  # researchers see model scores


def test_status(store, study, capsys):
    answer(store, study, "ana")
    answer(store, study, "ben", representativeness=5)  # incomplete card: clarity missing
    assert main(["study", "status", "--db", str(store.path), "--study", "pilot", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    n = store.db["assignments"].count
    assert (result["prototypes"], result["reviewers"]) == (store.db["prototypes"].count, 5)
    assert result["ratings"] == 3 and result["complete"] == pytest.approx(1 / n)
    assert result["per_rater"]["ana"]["complete"] == 1


def test_completion_per_rater_counts_what_each_queue_shows(store, study):
    """status counts a rater's progress from the assignments and answers (not from every
    rater's queue), with the queue's numbers: an answered prototype no longer assigned and an
    incomplete card do not count."""
    for k in range(3):
        answer(store, study, "ana", k)
    answer(store, study, "ben", 0, representativeness=5)  # clarity missing
    answer(store, study, "cai", 0)
    cai = rater(store, study, "cai")
    answered = answers.queue(store, cai)[0].prototype_id
    dropped = next(a.id for a in store.assignments(study)
                   if a.reviewer == "cai" and a.prototype_id == answered)
    store.replace_assignments(study, [dropped], [], {"test": "unassign"})
    per_rater = answers.status(store, study)["per_rater"]
    assert per_rater == {r.name: {**dict(zip(("complete", "assigned"),
                                             answers.progress(store, r), strict=True)),
                                  "removed_at": None}
                         for r in store.reviewers(study) if r.role == "rater"}
    assert per_rater["ana"]["complete"] == 3 and per_rater["cai"]["complete"] == 0


# ---------------------------------------------------------- import/export
def test_export_import_round_trips_exactly(store, study, catalog, tmp_path):
    answer(store, study, "ana", representativeness=5, clarity=4, best=True,
           comment='says "classic", with a comma\nand a new line')
    answer(store, study, "ben", 1, representativeness=2, clarity=2, bad=True)
    answer(store, study, "cai", 2)
    first = tmp_path / "first.csv"
    assert export_ratings(store, study, first) == 9
    frame = pd.read_csv(first)
    assert list(frame.columns)[:4] == ["reviewer", "prototype_id", "question", "answer"]
    assert set(frame.loc[frame.question.isin(["best", "bad"]), "answer"]) == {"1"} or set(
        frame.loc[frame.question.isin(["best", "bad"]), "answer"].astype(str)) == {"1"}
    with ReviewStore(tmp_path / "fresh.db") as fresh:
        twin = fresh.create_study("copy", load_protocol(PAPER_PROTOCOL), catalog)
        result = import_ratings(fresh, twin, first, create_reviewers=True)
        assert set(result["reviewers_created"]) == {"ana", "ben", "cai"}
        second = tmp_path / "second.csv"
        export_ratings(fresh, twin, second)
        assert second.read_bytes() == first.read_bytes()
        again = import_ratings(fresh, twin, second)
        assert again["revisions_written"] == 0


def test_import_is_all_or_nothing(store, study, tmp_path, capsys):
    ana = rater(store, study, "ana")
    items = answers.queue(store, ana)
    rows = [("ana", i.prototype_id, "clarity", "4") for i in items[:5]]
    rows.append(("ana", items[5].prototype_id, "clarity", "9"))
    path = tmp_path / "in.csv"
    pd.DataFrame(rows, columns=["reviewer", "prototype_id", "question", "answer"]).to_csv(
        path, index=False)
    before = table_counts(store)
    code = main(["study", "import-ratings", "--db", str(store.path), "--study", "pilot",
                 "--csv", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "in.csv line 7: answer to 'clarity' must be one of" in err
    assert table_counts(store) == before


@pytest.mark.parametrize("row, message", [
    (("zoe", None, "clarity", "3"), "unknown reviewer 'zoe' (pass --create-reviewers"),
    (("ana", "rhythm/XX/00", "clarity", "3"), "unknown prototype_id 'rhythm/XX/00'"),
    (("ana", None, "beauty", "3"), "unknown question 'beauty'"),
    (("ana", "UNASSIGNED", "clarity", "3"), "reviewer 'ana' is not assigned"),
])
def test_import_rejects(store, study, tmp_path, row, message):
    ana = rater(store, study, "ana")
    mine = {i.prototype_id for i in answers.queue(store, ana)}
    pid = row[1]
    if pid is None:
        pid = next(iter(mine))
    elif pid == "UNASSIGNED":
        pid = next(r["prototype_id"] for r in store.db["prototypes"].rows
                   if r["prototype_id"] not in mine)
    path = tmp_path / "in.csv"
    pd.DataFrame([(row[0], pid, row[2], row[3])],
                 columns=["reviewer", "prototype_id", "question", "answer"]).to_csv(path,
                                                                                   index=False)
    with pytest.raises(StoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_ratings(store, study, path)


# ------------------------------------------------------------------ audit
def test_every_write_is_audited(store, study):
    before = store.last_change()
    pid = answer(store, study, "ana")
    assert store.last_change() > before
    last = store.audit_log(study)[-1]
    assert (last["actor"], last["action"]) == (f"reviewer:{rater(store, study, 'ana').id}",
                                               "save_answers")
    assert last["detail"] == {"prototype_id": pid, "questions": ["clarity",
                                                                 "representativeness"]}
    assert [r["action"] for r in store.audit_log()][:2] == ["create_study", "add_reviewer"]


# ----------------------------------------------------------------- schema
def test_database_from_a_newer_schema_is_refused(store, study, tmp_path):
    store.db["_sqlite_migrations"].insert({"migration_set": "protoecg-review",
                                           "name": "m999_future", "applied_at": "2030"})
    path = store.path
    store.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="schema is newer than this protoecg"):
        ReviewStore(path)
    assert path.read_bytes() == before


def test_not_a_database(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("hello, I am a text file" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        ReviewStore(junk)


def test_schema_version_and_wal(store):
    assert store.schema_version == current_version() == 7
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_version_1_database_is_migrated_and_keeps_its_studies(tmp_path, catalog):
    """Databases made before review rounds existed open, gain the column, keep everything."""
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    from protoecg.study.schema import m001_initial

    path = tmp_path / "v1.db"
    version_1 = Migrations("protoecg-review")
    version_1()(m001_initial)
    version_1.apply(Database(path))
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO studies (name, protocol_id, protocol_json, catalog_path, "
                     "catalog_json) VALUES ('old', 'p', ?, 'c', '{}')",
                     [json.dumps(load_protocol(PAPER_PROTOCOL).to_dict())])
    with ReviewStore(path) as store:
        assert store.schema_version == current_version() == 7
        old = store.study("old")
        assert old.previous_id is None
        new = store.create_study("new", load_protocol(PAPER_PROTOCOL), catalog,
                                 previous=old)
        assert new.previous_id == old.id


# --------------------------------------------------------------- commands
@pytest.mark.slow
def test_commands_end_to_end(ludb_catalog, tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    # the 1-epoch tiny model's branches are degenerate (an untrained sigmoid add-on): what
    # this test checks is the review workflow on a real catalog, so it accepts them
    assert main(["study", "create", "--db", db, "--protocol", str(PAPER_PROTOCOL),
                 "--catalog", str(ludb_catalog), "--name", "s1", "--allow-degenerate"]) == 0
    codes = {}
    for name, role in (("ana", "rater"), ("ben", "rater"), ("rhea", "researcher")):
        assert main(["study", "add-reviewer", "--db", db, "--study", "s1", "--name", name,
                     "--role", role]) == 0
        codes[name] = capsys.readouterr().out.split("access code: ")[1].split()[0]
    assert main(["study", "assign", "--db", db, "--study", "s1",
                 "--raters-per-prototype", "2"]) == 0
    assert "2 raters per prototype" in capsys.readouterr().out
    out_csv = tmp_path / "out.csv"
    assert main(["study", "export-ratings", "--db", db, "--study", "s1", "--csv",
                 str(out_csv)]) == 0
    # UTF-8's byte-order mark first, so a spreadsheet shows accented comments right
    assert out_csv.read_bytes().startswith(b'\xef\xbb\xbf"reviewer","prototype_id","question",'
                                           b'"answer"')
    with ReviewStore(db) as s:
        assert signin.authenticate(s, codes["ana"])[1].name == "ana"
    for args, message in [
        (["study", "status", "--db", db, "--study", "nope"], "no study 'nope'"),
        (["study", "create", "--db", db, "--protocol", str(PAPER_PROTOCOL), "--catalog",
          str(tmp_path), "--name", "s2"], "catalog file prototypes.csv missing"),
        (["study", "add-reviewer", "--db", db, "--study", "s1", "--name", "ana", "--role",
          "rater"], "already has a reviewer named 'ana'"),
        (["study", "import-ratings", "--db", db, "--study", "s1", "--csv",
          str(tmp_path / "none.csv")], "none.csv: not a readable CSV"),
    ]:
        capsys.readouterr()
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_store_error_leaves_no_half_write_on_sqlite_failure(store, study, monkeypatch):
    """A failure inside the transaction (here: the audit insert) rolls everything back."""
    ana = rater(store, study, "ana")
    pid = answers.queue(store, ana)[0].prototype_id
    before = table_counts(store)
    original = store.db.conn.execute

    class Boom(sqlite3.OperationalError):
        pass

    def failing(sql, *args):
        if sql.startswith("INSERT INTO audit"):
            raise Boom("disk I/O error")
        return original(sql, *args)

    monkeypatch.setattr(store.db, "conn", _Proxy(store.db.conn, failing))
    with pytest.raises(Boom):
        answers.save_answers(store, ana, pid, {"representativeness": 3, "clarity": 3})
    monkeypatch.undo()
    assert table_counts(store) == before


class _Proxy:
    def __init__(self, conn, execute):
        self._conn, self.execute = conn, execute

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_a_session_token_signs_its_reviewer_back_in_until_signed_out_or_expired(store, study):
    reviewer = store.reviewers(study)[0]
    token = signin.start_session(store, reviewer)
    again_study, again = signin.resume_session(store, token)
    assert (again_study.name, again.id, again.role) == (study.name, reviewer.id, reviewer.role)
    stored = [r["token_hash"] for r in store.db["sessions"].rows]
    assert token not in "".join(stored)  # only its hash is kept
    signin.end_session(store, token)
    with pytest.raises(AuthError, match="session has ended"):
        signin.resume_session(store, token)
    expired = signin.start_session(store, reviewer, ttl_s=-1)
    with pytest.raises(AuthError, match="session has ended"):
        signin.resume_session(store, expired)
    with pytest.raises(AuthError):
        signin.resume_session(store, "made-up-token")
