"""The prune-rule language: parses what it documents, round-trips, evaluates as Python would,
and every error names its column."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protoecg.prune.rules import (
    Aggregate,
    BoolOp,
    Compare,
    Count,
    Evidence,
    ModelValue,
    Not,
    Number,
    RuleError,
    evaluate,
    parse_rule,
    to_text,
)

QUESTIONS = ["representativeness", "clarity"]


def test_the_documented_example():
    tree = parse_rule("bad >= 2 or (mean(representativeness) < 2.5 and "
                      "n(representativeness) >= 3)", QUESTIONS)
    assert tree == BoolOp("or", (
        Compare(">=", Count("bad"), Number(2.0)),
        BoolOp("and", (Compare("<", Aggregate("mean", "representativeness"), Number(2.5)),
                       Compare(">=", Aggregate("n", "representativeness"), Number(3.0))))))
    low = Evidence(bad=0, answers={"representativeness": (2.0, 2.0, 3.0)})
    assert evaluate(tree, low)  # mean 2.33 < 2.5 with 3 answers
    assert not evaluate(tree, Evidence(answers={"representativeness": (2.0, 2.0)}))  # n = 2
    assert evaluate(tree, Evidence(bad=2))


@pytest.mark.parametrize("rule, evidence, expected", [
    ("median(clarity) <= 2", {"answers": {"clarity": (1.0, 2.0, 5.0)}}, True),
    ("median(clarity) <= 2", {"answers": {"clarity": (2.0, 3.0)}}, False),  # 2.5
    ("min(clarity) == 1", {"answers": {"clarity": (1.0, 4.0)}}, True),
    ("max(clarity) != 4", {"answers": {"clarity": (1.0, 4.0)}}, False),
    ("mean(clarity) < 3", {}, False),  # nobody answered: undefined, no comparison holds
    ("n(clarity) == 0", {}, True),
    ("purity < 0.5", {"purity": 0.25}, True),
    ("purity < 0.5", {}, False),  # catalog without purity: undefined
    # issue 29's quality columns
    ("usage == 0", {"model": {"usage": 0.0}}, True),
    ("usage == 0", {}, False),  # catalog written before usage: undefined
    ("duplicate == 1 or edge == 1", {"model": {"duplicate": 0.0, "edge": 1.0}}, True),
    ("on_wave == 0", {"model": {"on_wave": float("nan")}}, False),  # class without a rule
    ("purity <= prevalence", {"purity": 0.1, "model": {"prevalence": 0.2}}, True),
    ("not best >= 1 and bad > 0", {"bad": 1}, True),
    ("not (best >= 1 or bad > 0)", {"bad": 1}, False),
    ("(mean(clarity)) > 1.5", {"answers": {"clarity": (2.0,)}}, True),
    ("((bad >= 1))", {"bad": 1}, True),
])
def test_evaluation(rule, evidence, expected):
    assert evaluate(parse_rule(rule, QUESTIONS), Evidence(**evidence)) is expected


@pytest.mark.parametrize("rule, column, message", [
    ("", 1, "the rule is empty"),
    ("bad", 4, "expected a comparison (<, <=, >, >=, ==, !=) after a value, found the end"),
    ("bad >=", 7, "expected a number, bad, best, purity, usage, duplicate, edge, on_wave, "
                  "prevalence, audit.*, clusters.* or "
                  "mean/median/min/max/n(question), found the end of the rule"),
    ('audit.segment == "QRX"', 18, "unknown segment 'QRX'"),
    ('"QRX" == audit.segment', 1, "unknown segment 'QRX'"),
    ('audit.segment < "QRS"', 15, "texts are compared with == or !=, not <"),
    ("audit.segment == 1", 15, "compared only with another text"),
    ('bad == "QRS"', 5, "compared only with another text"),
    ("audit.wave > 1", 1, "unknown name 'audit.wave'"),
    ("bad >= 2 and", 13, "expected a number"),
    ("bad >= 2 @", 10, "unexpected character '@'"),
    ("bad >= 2 best >= 1", 10, "expected 'and', 'or' or the end of the rule, found 'best'"),
    ("(bad >= 2", 10, "expected ')', found the end of the rule"),
    ("mean(foo) < 2", 6, "unknown question 'foo' (this study asks: representativeness, clarity)"),
    ("mean(bad) < 2", 6, "expected a question id, found 'bad'"),
    ("mean clarity < 2", 6, "expected '(', found 'clarity'"),
    ("worst > 1", 1, "unknown name 'worst'"),
    ("bad >= and", 8, "expected a value, found 'and'"),
    ("bad => 2", 5, "unexpected character '='"),
    ("bad >= -1", 8, "unexpected character '-'"),
])
def test_every_error_names_its_column(rule, column, message):
    with pytest.raises(RuleError) as info:
        parse_rule(rule, QUESTIONS)
    assert info.value.column == column, str(info.value)
    assert message in info.value.problem
    assert str(info.value).startswith(f"rule {rule!r}, column {column}: ")


# ------------------------------------------------------------------- property-based
numbers = st.floats(min_value=0, max_value=1e6, allow_nan=False).map(Number)
values = st.one_of(numbers, st.sampled_from([Count("bad"), Count("best"), ModelValue("purity"),
                                             ModelValue("usage"), ModelValue("edge")]),
                   st.builds(Aggregate, st.sampled_from(["mean", "median", "min", "max", "n"]),
                             st.sampled_from(QUESTIONS)))
comparisons = st.builds(Compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), values,
                        values)
conditions = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(BoolOp, st.sampled_from(["and", "or"]),
                  st.lists(inner, min_size=2, max_size=3).map(tuple))),
    max_leaves=8)
answers = st.lists(st.integers(1, 5).map(float), max_size=4).map(tuple)
evidences = st.builds(Evidence, bad=st.integers(0, 3), best=st.integers(0, 3),
                      answers=st.fixed_dictionaries({q: answers for q in QUESTIONS}),
                      purity=st.one_of(st.just(math.nan), st.floats(0, 1)))


def _python(tree, e: Evidence):
    """The rule's meaning written directly in Python, as the documentation states it."""
    if isinstance(tree, Not):
        return not _python(tree.operand, e)
    if isinstance(tree, BoolOp):
        parts = [_python(o, e) for o in tree.operands]
        return all(parts) if tree.op == "and" else any(parts)
    left, right = e.value(tree.left), e.value(tree.right)
    if math.isnan(left) or math.isnan(right):
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
            "==": left == right, "!=": left != right}[tree.op]


@settings(max_examples=300, deadline=None)
@given(conditions)
def test_canonical_text_parses_back_to_the_same_tree(tree):
    assert parse_rule(to_text(tree), QUESTIONS) == _flatten(tree)


def _flatten(tree):
    """Nested and/or of the same kind read back flat ((a and b) and c == a and b and c)."""
    if isinstance(tree, Not):
        return Not(_flatten(tree.operand))
    if isinstance(tree, BoolOp):
        return BoolOp(tree.op, tuple(_flatten(o) for o in tree.operands))
    return tree


@settings(max_examples=300, deadline=None)
@given(conditions, evidences)
def test_parsed_rules_evaluate_as_documented(tree, evidence):
    assert evaluate(parse_rule(to_text(tree), QUESTIONS), evidence) == _python(tree, evidence)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abdemnorstuvx ()<>=!0123456789.", max_size=30))
def test_any_text_parses_or_fails_with_a_column(text):
    try:
        parse_rule(text, QUESTIONS)
    except RuleError as exc:
        assert 1 <= exc.column <= len(text) + 1


@pytest.mark.parametrize(("rule", "audit", "selected"), [
    ('audit.segment == "QRS"', {"segment": "QRS"}, True),
    ('audit.segment != "QRS"', {"segment": "ST-T"}, True),
    ('audit.segment != "QRS"', {"segment": None}, False),  # outside the delineation: undefined
    ('audit.segment == "QRS"', None, False),  # not audited: undefined
    ("audit.no_wave == 1", {"no_wave": True}, True),
    ("audit.no_wave == 1", {"no_wave": False}, False),
    ("audit.agrees == 0", {"agrees": None}, False),
    ("audit.used == 0 and audit.drivers < 1", {"used": False, "drivers": 0}, True),
    ('bad >= 1 and (audit.no_wave == 1 or audit.segment != "QRS")',
     {"segment": "T", "no_wave": False}, True),
])
def test_audit_values(rule, audit, selected):
    tree = parse_rule(rule)
    assert evaluate(tree, Evidence(bad=1, audit=audit)) is selected
    assert parse_rule(to_text(tree)) == tree  # the canonical text round-trips
