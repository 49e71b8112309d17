"""Prune rules: a small expression language over a prototype's review evidence, parsed safely
(a tokenizer and a recursive-descent parser; never ``eval``).

    rule        := or
    or          := and ("or" and)*
    and         := not ("and" not)*
    not         := "not" not | comparison | "(" rule ")"
    comparison  := value ("<" | "<=" | ">" | ">=" | "==" | "!=") value
    value       := NUMBER | TEXT | "bad" | "best" | MODEL | AUDIT | CLUSTERS
                   | FUNCTION "(" QUESTION ")" | "(" value ")"
    NUMBER      := 2, 2.5, .5, 1e-3 (no sign: every value here is >= 0)
    TEXT        := "QRS" or 'QRS' (compared with == / != to a text value only)
    FUNCTION    := "mean" | "median" | "min" | "max" | "n"
    MODEL       := "purity" | "usage" | "duplicate" | "edge" | "on_wave" | "prevalence"
    AUDIT       := "audit.segment" | "audit.no_wave" | "audit.agrees" | "audit.used"
                   | "audit.drivers"
    CLUSTERS    := "clusters.wave" | "clusters.share" | "clusters.cluster"

``bad`` / ``best``: how many raters set that flag on the prototype; ``mean(Q)``, ``median(Q)``,
``min(Q)``, ``max(Q)``: of the raters' current answers to question ``Q`` (a protocol question
id), undefined when nobody answered; ``n(Q)``: how many raters answered ``Q``; ``purity``: the
share of the prototype's k most similar training records that carry its class (the catalog's
ProtoPNet-style model-side rule); the catalog's quality columns (issue 29): ``usage`` how many
true-positive validation decisions the prototype is a top-3 contributor of, ``duplicate`` 1
when its window overlaps another prototype's of its class in one record, ``edge`` 1 when its
time-local window reaches into the record's first or last second, ``on_wave`` 1 when its
window is centred on the wave its class is read from (0 when not; undefined where the class
has no rule), ``prevalence`` its class's training prevalence (compare ``purity`` with it).
``audit.*`` read the run's explanation audit
(``protoecg audit``): ``audit.segment`` the ECG segment the prototype's window is centred on
(text: one of P, PR, QRS, ST-T, T, none; undefined outside the delineation and for whole-record
prototypes), ``audit.no_wave`` 1 when its window holds no P, QRS or T wave, ``audit.agrees`` 1
when its segment is one the expert rules expect for its class, ``audit.used`` 1 when it is
among the top three contributors of at least one positive prediction, ``audit.drivers`` how
many positive predictions it drives. ``clusters.*`` read the run's time-localized clusters
(``protoecg clusters``): ``clusters.cluster`` the cluster most of the prototype's window falls
in (in its branch), ``clusters.share`` the share of the window's time steps in it,
``clusters.wave`` that cluster's main wave (text: one of P, QRS, T, rest); undefined for
whole-record prototypes. A comparison with an undefined value is false. Example::

    bad >= 2 or (mean(representativeness) < 2.5 and n(representativeness) >= 3)
    bad >= 1 and (audit.no_wave == 1 or audit.segment != "QRS")
    clusters.wave == "rest" and clusters.share > 0.5

Every error names the column (1-based) of the rule where it was found.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from protoecg.audit.segments import SEGMENTS
from protoecg.clusters.alignment import WAVES
from protoecg.prune.rule_tokens import RuleError, Token, tokens

COUNTS = ("bad", "best")
MODEL_VALUES = ("purity", "usage", "duplicate", "edge", "on_wave", "prevalence")
# each model value's column of the catalog (and of a study's snapshot rows)
MODEL_COLUMNS = {"purity": "purity", "usage": "usage_decisions", "duplicate": "duplicate",
                 "edge": "edge", "on_wave": "on_wave", "prevalence": "class_prevalence"}
AUDIT_VALUES = ("audit.segment", "audit.no_wave", "audit.agrees", "audit.used", "audit.drivers")
CLUSTER_VALUES = ("clusters.wave", "clusters.share", "clusters.cluster")
TEXT_VALUES = ("audit.segment", "clusters.wave")
# the texts each text value may be compared with
TEXT_CHOICES = {"audit.segment": SEGMENTS, "clusters.wave": WAVES}
FUNCTIONS = ("mean", "median", "min", "max", "n")
OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
KEYWORDS = ("and", "or", "not")
# parentheses and "not"s inside one another: far beyond any real rule, and well inside Python's
# recursion limit (a rule nested 2,000 deep would otherwise end in a RecursionError)
MAX_DEPTH = 100


# ----------------------------------------------------------------------------- the tree
@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Count:  # bad / best
    flag: str


@dataclass(frozen=True)
class ModelValue:  # purity, usage, duplicate, edge, on_wave, prevalence
    name: str


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class AuditValue:  # audit.segment ...
    name: str


@dataclass(frozen=True)
class ClusterValue:  # clusters.wave ...
    name: str


@dataclass(frozen=True)
class Aggregate:  # mean(Q) ...
    function: str
    question: str
    column: int = field(default=0, compare=False)  # where the question id stands (errors)


@dataclass(frozen=True)
class Compare:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Not:
    operand: object


@dataclass(frozen=True)
class BoolOp:
    op: str  # and / or
    operands: tuple


Value = Number | Text | Count | ModelValue | AuditValue | ClusterValue | Aggregate
Condition = Compare | Not | BoolOp


# ---------------------------------------------------------------------------- parsing
class _Parser:
    def __init__(self, rule: str):
        self.rule = rule
        self.tokens = tokens(rule)
        self.at = 0
        self.depth = 0

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} deep (parentheses and 'not'); write the "
                      "rule with fewer levels")

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def fail(self, problem: str, token: Token | None = None):
        token = token or self.token
        raise RuleError(self.rule, token.column, problem)

    def take(self, kind: str, text: str | None = None) -> Token:
        token = self.token
        if token.kind != kind or (text is not None and token.text != text):
            wanted = repr(text) if text else kind
            found = "the end of the rule" if token.kind == "end" else repr(token.text)
            self.fail(f"expected {wanted}, found {found}")
        self.at += 1
        return token

    def is_(self, kind: str, text: str | None = None) -> bool:
        return self.token.kind == kind and (text is None or self.token.text == text)

    # rule := or
    def rule_(self) -> Condition:
        node = self.or_()
        if not self.is_("end"):
            self.fail(f"expected 'and', 'or' or the end of the rule, found {self.token.text!r}")
        return node

    def or_(self) -> Condition:
        operands = [self.and_()]
        while self.is_("name", "or"):
            self.at += 1
            operands.append(self.and_())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def and_(self) -> Condition:
        operands = [self.not_()]
        while self.is_("name", "and"):
            self.at += 1
            operands.append(self.not_())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def not_(self) -> Condition:
        self.deeper()
        try:
            return self._not()
        finally:
            self.depth -= 1

    def _not(self) -> Condition:
        if self.is_("name", "not"):
            self.at += 1
            return Not(self.not_())
        if self.is_("paren", "("):
            # "(" opens a condition or a value: try the condition first; if both readings
            # fail, report the one that got further into the rule
            saved = self.at
            self.at += 1
            try:
                inner = self.or_()
                self.take("paren", ")")
            except RuleError as exc:
                as_condition = exc
            else:
                if not self.is_("op"):
                    return inner
                as_condition = None
            self.at = saved
            try:
                return self.comparison()
            except RuleError as as_value:
                if as_condition is not None and as_condition.column > as_value.column:
                    raise as_condition from None
                raise
        return self.comparison()

    def comparison(self) -> Compare:
        left_column = self.token.column
        left = self.value()
        if not self.is_("op"):
            found = "the end of the rule" if self.is_("end") else repr(self.token.text)
            self.fail(f"expected a comparison (<, <=, >, >=, ==, !=) after a value, "
                      f"found {found}")
        op_token = self.take("op")
        right_column = self.token.column
        right = self.value()
        texts = [_is_text(left), _is_text(right)]
        if any(texts):
            if not all(texts):
                self.fail("a text value (audit.segment, clusters.wave or a quoted text) is "
                          "compared only with another text", op_token)
            if op_token.text not in ("==", "!="):
                self.fail(f"texts are compared with == or !=, not {op_token.text}", op_token)
            named = [n.name for n in (left, right) if not isinstance(n, Text)]
            choices = TEXT_CHOICES[named[0]] if named else (*SEGMENTS, *WAVES)
            what = "wave" if named and named[0] == "clusters.wave" else "segment"
            for node, column in ((left, left_column), (right, right_column)):
                if isinstance(node, Text) and node.value not in choices:
                    raise RuleError(self.rule, column,
                                    f"unknown {what} {node.value!r} ({what}s: "
                                    f"{', '.join(dict.fromkeys(choices))})")
        return Compare(op_token.text, left, right)

    def value(self) -> Value:
        token = self.token
        if token.kind == "number":
            number = float(token.text)
            if not math.isfinite(number):
                self.fail(f"number {token.text} is too large")
            self.at += 1
            return Number(number)
        if token.kind == "text":
            self.at += 1
            return Text(token.text[1:-1])
        if token.kind == "paren" and token.text == "(":
            self.at += 1
            self.deeper()
            try:
                inner = self.value()
            finally:
                self.depth -= 1
            self.take("paren", ")")
            return inner
        if token.kind != "name":
            found = "the end of the rule" if token.kind == "end" else repr(token.text)
            self.fail(f"expected a number, bad, best, {', '.join(MODEL_VALUES)}, audit.*, "
                      f"clusters.* or mean/median/min/max/n(question), found {found}")
        self.at += 1
        if token.text in COUNTS:
            return Count(token.text)
        if token.text in MODEL_VALUES:
            return ModelValue(token.text)
        if token.text in AUDIT_VALUES:
            return AuditValue(token.text)
        if token.text in CLUSTER_VALUES:
            return ClusterValue(token.text)
        if "." in token.text:
            self.fail(f"unknown name {token.text!r} (audit values: "
                      f"{', '.join(AUDIT_VALUES)}; cluster values: "
                      f"{', '.join(CLUSTER_VALUES)})", token)
        if token.text in FUNCTIONS:
            self.take("paren", "(")
            question = self.take("name")
            if question.text in (*KEYWORDS, *COUNTS, *MODEL_VALUES, *FUNCTIONS):
                self.fail(f"expected a question id, found {question.text!r}", question)
            self.take("paren", ")")
            return Aggregate(token.text, question.text, question.column)
        if token.text in KEYWORDS:
            self.fail(f"expected a value, found {token.text!r}", token)
        self.fail(f"unknown name {token.text!r} (values: bad, best, "
                  f"{', '.join(MODEL_VALUES)}, audit.*, clusters.*, "
                  f"{'/'.join(FUNCTIONS)}(question))", token)


def parse_rule(rule: str, questions: list[str] | None = None) -> Condition:
    """The rule's tree; with ``questions`` (the protocol's question ids) every ``f(Q)`` must
    name one of them."""
    if not rule.strip():
        raise RuleError(rule, 1, "the rule is empty")
    tree = _Parser(rule).rule_()
    if questions is not None:
        for node in _walk(tree):
            if isinstance(node, Aggregate) and node.question not in questions:
                raise RuleError(rule, node.column,
                                f"unknown question {node.question!r} (this study asks: "
                                f"{', '.join(questions)})")
    return tree


def _walk(node):
    yield node
    if isinstance(node, Compare):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, Not):
        yield from _walk(node.operand)
    elif isinstance(node, BoolOp):
        for operand in node.operands:
            yield from _walk(operand)


def _is_text(node) -> bool:
    return isinstance(node, Text) or (isinstance(node, AuditValue | ClusterValue)
                                      and node.name in TEXT_VALUES)


def uses_audit(tree: Condition) -> bool:
    return any(isinstance(n, AuditValue) for n in _walk(tree))


def uses_clusters(tree: Condition) -> bool:
    return any(isinstance(n, ClusterValue) for n in _walk(tree))


def questions_used(tree: Condition) -> set[str]:
    return {n.question for n in _walk(tree) if isinstance(n, Aggregate)}


def uses_purity(tree: Condition) -> bool:
    return "purity" in model_values_used(tree)


def model_values_used(tree: Condition) -> set[str]:
    """The catalog values (``MODEL_VALUES``) a rule reads."""
    return {n.name for n in _walk(tree) if isinstance(n, ModelValue)}


# ------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Evidence:
    """What is known about one prototype: flag counts, answers per question, purity."""

    bad: int = 0
    best: int = 0
    answers: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # per question
    purity: float = math.nan
    # the catalog's other quality values (``MODEL_VALUES`` but purity); missing: undefined
    model: Mapping[str, float] = field(default_factory=dict)
    # the run's audit row of this prototype (``audit.json`` ``prototypes.<id>``); None: not
    # audited
    audit: Mapping[str, object] | None = None
    # the run's clusters row of this prototype (``clusters/prototypes.csv``: cluster, share,
    # wave); None: none (not clustered, or a whole-record prototype)
    clusters: Mapping[str, object] | None = None

    def value(self, node: Value) -> float | str | None:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Text):
            return node.value
        if isinstance(node, AuditValue | ClusterValue):
            source = self.audit if isinstance(node, AuditValue) else self.clusters
            found = (source or {}).get(node.name.split(".", 1)[1])
            if node.name in TEXT_VALUES:
                return None if found is None else str(found)
            return math.nan if found is None else float(found)
        if isinstance(node, Count):
            return float(getattr(self, node.flag))
        if isinstance(node, ModelValue):
            if node.name == "purity":
                return float(self.purity)
            return float(self.model.get(node.name, math.nan))
        values = sorted(self.answers.get(node.question, ()))
        if node.function == "n":
            return float(len(values))
        if not values:
            return math.nan
        if node.function == "mean":
            return sum(values) / len(values)
        if node.function == "min":
            return values[0]
        if node.function == "max":
            return values[-1]
        middle = len(values) // 2  # median
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


_COMPARE = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__,
            "==": float.__eq__, "!=": float.__ne__}


def evaluate(tree: Condition, evidence: Evidence) -> bool:
    """Whether the rule selects a prototype with this evidence."""
    if isinstance(tree, Compare):
        left, right = evidence.value(tree.left), evidence.value(tree.right)
        if _is_text(tree.left):  # the parser allows only == / != between texts
            if left is None or right is None:
                return False  # undefined (not audited, outside the delineation)
            return (left == right) == (tree.op == "==")
        if math.isnan(left) or math.isnan(right):
            return False  # undefined (nobody answered): no comparison holds
        return _COMPARE[tree.op](left, right)
    if isinstance(tree, Not):
        return not evaluate(tree.operand, evidence)
    results = (evaluate(operand, evidence) for operand in tree.operands)
    return all(results) if tree.op == "and" else any(results)


def to_text(tree) -> str:
    """The canonical text of a tree (fully parenthesised), which parses back to it."""
    if isinstance(tree, Number):
        return repr(tree.value)
    if isinstance(tree, Count):
        return tree.flag
    if isinstance(tree, ModelValue | AuditValue | ClusterValue):
        return tree.name
    if isinstance(tree, Text):
        return f'"{tree.value}"'
    if isinstance(tree, Aggregate):
        return f"{tree.function}({tree.question})"
    if isinstance(tree, Compare):
        return f"{to_text(tree.left)} {tree.op} {to_text(tree.right)}"
    if isinstance(tree, Not):
        return f"not ({to_text(tree.operand)})"
    return f" {tree.op} ".join(f"({to_text(o)})" for o in tree.operands)
