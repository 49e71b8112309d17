"""Study protocols (``study_protocols/*.toml``): load, validate, and describe.

The format is documented in ``study_protocols/README.md``; every problem is reported as a
``ProtocolError`` naming the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from protoecg.errors import ProtoECGError

PROTOCOL_FORMAT = 1
RESERVED_IDS = {"best", "bad", "comment"}
GROUPINGS = ("class", "branch", "none")


class ProtocolError(ProtoECGError):
    """A study protocol that does not follow the documented format."""


@dataclass(frozen=True)
class ScalePoint:
    value: int
    label: str


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    scale: tuple[ScalePoint, ...]
    required: bool = True

    @property
    def values(self) -> list[int]:
        return [p.value for p in self.scale]

    def label_of(self, value: int) -> str:
        return next(p.label for p in self.scale if p.value == value)


@dataclass(frozen=True)
class Flag:
    id: str
    label: str


@dataclass(frozen=True)
class Protocol:
    id: str
    title: str
    version: str
    instructions: str
    raters_per_prototype: int
    questions: tuple[Question, ...]
    flags: tuple[Flag, ...] = ()
    comment_enabled: bool = True
    comment_label: str = "Comments"
    blind_other_raters: bool = True
    blind_model_scores: bool = True
    seed: int = 42
    group_by: str = "class"
    shuffle: bool = True
    source: str = field(default="", compare=False)

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise ProtocolError(f"protocol {self.id}: unknown question {question_id!r} "
                            f"(expected one of {', '.join(self.answer_ids())})")

    def answer_ids(self) -> list[str]:
        """Every id an answer may carry: questions, flags and ``comment``."""
        ids = [q.id for q in self.questions] + [f.id for f in self.flags]
        return ids + (["comment"] if self.comment_enabled else [])

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("source")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Protocol:
        """Rebuild from ``to_dict`` (as stored with a study)."""
        questions = tuple(Question(q["id"], q["prompt"],
                                   tuple(ScalePoint(**p) for p in q["scale"]), q["required"])
                          for q in data["questions"])
        flags = tuple(Flag(**f) for f in data["flags"])
        rest = {k: v for k, v in data.items() if k not in ("questions", "flags")}
        return cls(questions=questions, flags=flags, **rest)


_TOP_KEYS = {"format", "id", "title", "version", "instructions", "raters_per_prototype",
             "questions", "flags", "comment", "blinding", "assignment"}


def load_protocol(path: str | Path) -> Protocol:
    """Read and validate a protocol TOML file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read protocol ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{path}: not UTF-8 text (byte {exc.start}); save the protocol "
                            "as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{path}: not valid TOML ({exc})") from None
    return parse_protocol(raw, str(path))


def parse_protocol(raw: dict, source: str = "protocol") -> Protocol:
    def fail(message: str):
        raise ProtocolError(f"{source}: {message}")

    def need(table: dict, key: str, kind, where: str = ""):
        if key not in table:
            fail(f"missing field {where}{key!r}")
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__
                                                                        for k in kind)
            fail(f"field {where}{key!r} must be {names}, got {value!r}")
        return value

    unknown = set(raw) - _TOP_KEYS
    if unknown:
        fail(f"unknown field {sorted(unknown)[0]!r} (expected {', '.join(sorted(_TOP_KEYS))})")
    if need(raw, "format", int) != PROTOCOL_FORMAT:
        fail(f"format {raw['format']} is not supported (expected {PROTOCOL_FORMAT})")
    protocol_id = need(raw, "id", str)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", protocol_id):
        fail(f"field 'id' must be lower-case letters, digits and '-', got {protocol_id!r}")
    k = need(raw, "raters_per_prototype", int)
    if k < 1:
        fail("field 'raters_per_prototype' must be at least 1")
    questions_raw = need(raw, "questions", list)
    if not questions_raw:
        fail("field 'questions' must list at least one question")
    questions, seen = [], set()
    for i, q in enumerate(questions_raw):
        where = f"questions[{i}]."
        if not isinstance(q, dict):
            fail(f"questions[{i}] must be a table")
        extra = set(q) - {"id", "prompt", "scale", "required"}
        if extra:
            fail(f"unknown field {where}{sorted(extra)[0]!r}")
        qid = need(q, "id", str, where)
        if not re.fullmatch(r"[a-z0-9_]+", qid) or qid in RESERVED_IDS or qid in seen:
            fail(f"{where}id {qid!r} must be unique, [a-z0-9_]+, and not one of "
                 f"{', '.join(sorted(RESERVED_IDS))}")
        seen.add(qid)
        prompt = need(q, "prompt", str, where)
        scale_raw = need(q, "scale", list, where)
        if len(scale_raw) < 2:
            fail(f"{where}scale needs at least two points")
        points = []
        for j, p in enumerate(scale_raw):
            pw = f"{where}scale[{j}]."
            if not isinstance(p, dict) or set(p) != {"value", "label"}:
                fail(f"{where}scale[{j}] must be {{ value = N, label = \"...\" }}")
            value, label = need(p, "value", int, pw), need(p, "label", str, pw)
            if not -1000 <= value <= 1000:  # answers are stored as SQLite integers
                fail(f"{pw}value must be between -1000 and 1000, got {value}")
            if not label.strip():
                fail(f"{pw}label is empty: every scale point needs a label")
            points.append(ScalePoint(value, label))
        values = [p.value for p in points]
        if values != list(range(values[0], values[0] + len(values))):
            fail(f"{where}scale values must be consecutive integers in ascending order "
                 f"without gaps, got {values}")
        required = q.get("required", True)
        if not isinstance(required, bool):
            fail(f"field {where}'required' must be true or false")
        questions.append(Question(qid, prompt, tuple(points), required))
    flags = []
    if not isinstance(raw.get("flags", []), list):
        fail("field 'flags' must be a list of { id = \"...\", label = \"...\" } tables")
    for i, f in enumerate(raw.get("flags", [])):
        where = f"flags[{i}]."
        if not isinstance(f, dict) or set(f) - {"id", "label"}:
            fail(f"flags[{i}] must be {{ id = \"...\", label = \"...\" }}")
        fid, label = need(f, "id", str, where), need(f, "label", str, where)
        if fid in seen or fid == "comment" or not re.fullmatch(r"[a-z0-9_]+", fid):
            fail(f"{where}id {fid!r} must be unique, [a-z0-9_]+ and not 'comment'")
        seen.add(fid)
        flags.append(Flag(fid, label))
    comment = raw.get("comment", {})
    blinding = raw.get("blinding", {})
    assignment = raw.get("assignment", {})
    for name, table, keys in (("comment", comment, {"enabled", "label"}),
                              ("blinding", blinding, {"other_raters", "model_scores"}),
                              ("assignment", assignment, {"seed", "group_by", "shuffle"})):
        if not isinstance(table, dict):
            fail(f"field {name!r} must be a table")
        extra = set(table) - keys
        if extra:
            fail(f"unknown field {name}.{sorted(extra)[0]!r}")
    group_by = assignment.get("group_by", "class")
    if group_by not in GROUPINGS:
        fail(f"field assignment.'group_by' must be one of {', '.join(GROUPINGS)}")
    bools = {"comment.enabled": comment.get("enabled", True),
             "blinding.other_raters": blinding.get("other_raters", True),
             "blinding.model_scores": blinding.get("model_scores", True),
             "assignment.shuffle": assignment.get("shuffle", True)}
    for name, value in bools.items():
        if not isinstance(value, bool):
            fail(f"field {name!r} must be true or false")
    seed = assignment.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool):
        fail("field assignment.'seed' must be an integer")
    return Protocol(
        id=protocol_id, title=need(raw, "title", str), version=str(raw.get("version", "1")),
        instructions=need(raw, "instructions", str).strip(), raters_per_prototype=k,
        questions=tuple(questions), flags=tuple(flags),
        comment_enabled=bools["comment.enabled"],
        comment_label=str(comment.get("label", "Comments")),
        blind_other_raters=bools["blinding.other_raters"],
        blind_model_scores=bools["blinding.model_scores"], seed=seed, group_by=group_by,
        shuffle=bools["assignment.shuffle"], source=source,
    )
