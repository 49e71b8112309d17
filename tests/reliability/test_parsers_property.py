"""Property-based tests (hypothesis) of the two parsers users feed by hand (issue 12): whatever
protocol table or ratings CSV arrives, the result is a valid protocol / an all-or-nothing import,
or one ProtocolError / StoreError naming what is wrong, never another exception, and a refused
import changes nothing."""

import csv
import io
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protoecg.catalog.reader import read_catalog
from protoecg.resources import protocol_path
from protoecg.study.answers import current_answers
from protoecg.study.assignment import assign
from protoecg.study.protocol import ProtocolError, load_protocol, parse_protocol
from protoecg.study.ratings_csv import import_ratings
from protoecg.study.store import ReviewStore, StoreError
from tests._synthetic_catalog import SMALL, write_synthetic_catalog

PAPER = tomllib.loads(protocol_path().read_text())

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@st.composite
def mutated_protocols(draw):
    """The paper's protocol with a few fields replaced, removed or added."""
    raw = {k: (list(v) if isinstance(v, list) else v) for k, v in PAPER.items()}
    raw["questions"] = [dict(q, scale=[dict(p) for p in q["scale"]])
                        for q in PAPER["questions"]]
    for _ in range(draw(st.integers(1, 4))):
        questions = [q for q in raw.get("questions", []) if isinstance(q, dict)] \
            if isinstance(raw.get("questions"), list) else []
        scales = [p for q in questions if isinstance(q.get("scale"), list)
                  for p in q["scale"] if isinstance(p, dict)]
        where = draw(st.sampled_from(["top", "question", "scale"]))
        if where == "question" and questions:
            table = draw(st.sampled_from(questions))
        elif where == "scale" and scales:
            table = draw(st.sampled_from(scales))
        else:
            table = raw
        key = draw(st.one_of(st.sampled_from(sorted(table) or ["id"]), st.text(max_size=8)))
        if draw(st.booleans()):
            table[key] = draw(values)
        else:
            table.pop(key, None)
    return raw


@settings(max_examples=300, deadline=None)
@given(mutated_protocols())
def test_any_protocol_table_parses_or_names_its_fault(raw):
    try:
        protocol = parse_protocol(raw, "p.toml")
    except ProtocolError as exc:
        assert str(exc).startswith("p.toml: ") and "\n" not in str(exc)
        return
    assert protocol.questions and all(len(q.scale) >= 2 for q in protocol.questions)


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    path = folder / "review.db"
    with ReviewStore(path) as store:
        study = store.create_study("s", load_protocol(protocol_path()), read_catalog(
            write_synthetic_catalog(folder / "catalog", SMALL)))
        store.add_reviewer(study, "Dr A", "rater")
        assign(store, study, 1)
        pids = [p.prototype_id for p in store.prototypes(study)]
    return path, pids


cells = st.one_of(st.text(max_size=10), st.sampled_from(
    ["1", "3", "5", "0", "6", "2.0", "-1", "true", "", "=1+1", "'x", "Dr A", "Dr B",
     "representativeness", "clarity", "bad", "best", "comment", "2026-11-22T10:00:00Z",
     "not-a-date"]))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cells, st.integers(0, 15), cells, cells, cells), max_size=6),
       header=st.sampled_from([
           ["reviewer", "prototype_id", "question", "answer", "answered_at"],
           ["reviewer", "prototype_id", "question", "answer"],
           ["reviewer", "prototype", "question", "answer"]]))
def test_any_ratings_csv_imports_whole_or_not_at_all(study_db, tmp_path, rows, header):
    path, pids = study_db
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for reviewer, pid, question, answer, stamp in rows:
        writer.writerow([reviewer, pids[pid], question, answer, stamp][:len(header)])
    target = tmp_path / "in.csv"
    target.write_text(buffer.getvalue())
    with ReviewStore(path) as store:
        study = store.study("s")
        before = current_answers(store, study)
        try:
            import_ratings(store, study, target)
        except StoreError as exc:
            assert "\n" not in str(exc)
            assert current_answers(store, study).equals(before)
