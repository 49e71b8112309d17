"""Study protocols (``study_protocols/*.toml``): load, validate, and describe.

The format is documented in ``study_protocols/README.md``; every problem is reported as a
``ProtocolError`` naming the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NoReturn

from protoecg.errors import ProtoECGError

PROTOCOL_FORMAT = 1
RESERVED_IDS = {"best", "bad", "comment"}
GROUPINGS = ("class", "branch", "none")

MAX_PROTOCOL_BYTES = 1 << 20  # a protocol is a few kB; 1 MiB leaves room for long texts


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
    return parse_protocol(read_protocol_toml(path), str(path))


def read_protocol_toml(path: str | Path) -> dict:
    """A protocol file's TOML table, read with a size cap (rating and comparison protocols)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ProtocolError(f"{path}: not a file (expected a protocol TOML file)")
    try:
        with open(path, "rb") as f:  # capped: a path naming an endless stream is refused
            data = f.read(MAX_PROTOCOL_BYTES + 1)
        if len(data) > MAX_PROTOCOL_BYTES:
            raise ProtocolError(f"{path}: larger than {MAX_PROTOCOL_BYTES // 1024} KiB; a "
                                "protocol is a short TOML file")
        return tomllib.loads(data.decode("utf-8"))
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read protocol ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{path}: not UTF-8 text (byte {exc.start}); save the protocol "
                            "as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{path}: not valid TOML ({exc})") from None


def parse_protocol(raw: dict, source: str = "protocol") -> Protocol:
    """Validate a protocol's TOML table (``load_protocol`` reads the file); every problem is a
    ``ProtocolError`` naming ``source`` and the field."""
    fields = _Fields(source)
    if raw.get("kind") == "comparison":
        fields.fail("is a comparison protocol (kind = \"comparison\"); a prototype rating "
                    "study needs a rating protocol")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        fields.fail(f"unknown field {sorted(unknown)[0]!r} (expected "
                    f"{', '.join(sorted(_TOP_KEYS))})")
    if fields.need(raw, "format", int) != PROTOCOL_FORMAT:
        fields.fail(f"format {raw['format']} is not supported (expected {PROTOCOL_FORMAT})")
    protocol_id = fields.need(raw, "id", str)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", protocol_id):
        fields.fail(f"field 'id' must be lower-case letters, digits and '-', got "
                    f"{protocol_id!r}")
    k = fields.need(raw, "raters_per_prototype", int)
    if k < 1:
        fields.fail("field 'raters_per_prototype' must be at least 1")
    seen: set[str] = set()  # question and flag ids so far: each must be unique
    questions = _questions(fields, raw, seen)
    flags = _flags(fields, raw, seen)
    options = _options(fields, raw)
    return Protocol(
        id=protocol_id, title=fields.need(raw, "title", str),
        version=str(raw.get("version", "1")),
        instructions=fields.need(raw, "instructions", str).strip(), raters_per_prototype=k,
        questions=questions, flags=flags, source=source, **options)


class _Fields:
    """Reads a protocol's fields; a problem fails with the source and the field's name."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, message: str) -> NoReturn:
        raise ProtocolError(f"{self.source}: {message}")

    def need(self, table: dict, key: str, kind, where: str = ""):
        """``table[key]``, which must be there and of ``kind`` (a type or a tuple of them; a
        bool is not an int)."""
        if key not in table:
            self.fail(f"missing field {where}{key!r}")
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__
                                                                        for k in kind)
            self.fail(f"field {where}{key!r} must be {names}, got {value!r}")
        return value


def _questions(fields: _Fields, raw: dict, seen: set[str]) -> tuple[Question, ...]:
    questions_raw = fields.need(raw, "questions", list)
    if not questions_raw:
        fields.fail("field 'questions' must list at least one question")
    questions = []
    for i, q in enumerate(questions_raw):
        where = f"questions[{i}]."
        if not isinstance(q, dict):
            fields.fail(f"questions[{i}] must be a table")
        extra = set(q) - {"id", "prompt", "scale", "required"}
        if extra:
            fields.fail(f"unknown field {where}{sorted(extra)[0]!r}")
        qid = fields.need(q, "id", str, where)
        if not re.fullmatch(r"[a-z0-9_]+", qid) or qid in RESERVED_IDS or qid in seen:
            fields.fail(f"{where}id {qid!r} must be unique, [a-z0-9_]+, and not one of "
                        f"{', '.join(sorted(RESERVED_IDS))}")
        seen.add(qid)
        prompt = fields.need(q, "prompt", str, where)
        points = _scale(fields, fields.need(q, "scale", list, where), where)
        required = q.get("required", True)
        if not isinstance(required, bool):
            fields.fail(f"field {where}'required' must be true or false")
        questions.append(Question(qid, prompt, points, required))
    return tuple(questions)


def _scale(fields: _Fields, scale_raw: list, where: str) -> tuple[ScalePoint, ...]:
    """A question's scale: at least two labelled points, consecutive integers ascending."""
    if len(scale_raw) < 2:
        fields.fail(f"{where}scale needs at least two points")
    points = []
    for j, p in enumerate(scale_raw):
        pw = f"{where}scale[{j}]."
        if not isinstance(p, dict) or set(p) != {"value", "label"}:
            fields.fail(f"{where}scale[{j}] must be {{ value = N, label = \"...\" }}")
        value, label = fields.need(p, "value", int, pw), fields.need(p, "label", str, pw)
        if not -1000 <= value <= 1000:  # answers are stored as SQLite integers
            fields.fail(f"{pw}value must be between -1000 and 1000, got {value}")
        if not label.strip():
            fields.fail(f"{pw}label is empty: every scale point needs a label")
        points.append(ScalePoint(value, label))
    values = [p.value for p in points]
    if values != list(range(values[0], values[0] + len(values))):
        fields.fail(f"{where}scale values must be consecutive integers in ascending order "
                    f"without gaps, got {values}")
    return tuple(points)


def _flags(fields: _Fields, raw: dict, seen: set[str]) -> tuple[Flag, ...]:
    if not isinstance(raw.get("flags", []), list):
        fields.fail("field 'flags' must be a list of { id = \"...\", label = \"...\" } tables")
    flags = []
    for i, f in enumerate(raw.get("flags", [])):
        where = f"flags[{i}]."
        if not isinstance(f, dict) or set(f) - {"id", "label"}:
            fields.fail(f"flags[{i}] must be {{ id = \"...\", label = \"...\" }}")
        fid, label = fields.need(f, "id", str, where), fields.need(f, "label", str, where)
        if fid in seen or fid == "comment" or not re.fullmatch(r"[a-z0-9_]+", fid):
            fields.fail(f"{where}id {fid!r} must be unique, [a-z0-9_]+ and not 'comment'")
        seen.add(fid)
        flags.append(Flag(fid, label))
    return tuple(flags)


def _options(fields: _Fields, raw: dict) -> dict:
    """The ``comment``, ``blinding`` and ``assignment`` tables as ``Protocol`` arguments
    (their defaults where absent)."""
    comment = raw.get("comment", {})
    blinding = raw.get("blinding", {})
    assignment = raw.get("assignment", {})
    for name, table, keys in (("comment", comment, {"enabled", "label"}),
                              ("blinding", blinding, {"other_raters", "model_scores"}),
                              ("assignment", assignment, {"seed", "group_by", "shuffle"})):
        if not isinstance(table, dict):
            fields.fail(f"field {name!r} must be a table")
        extra = set(table) - keys
        if extra:
            fields.fail(f"unknown field {name}.{sorted(extra)[0]!r}")
    group_by = assignment.get("group_by", "class")
    if group_by not in GROUPINGS:
        fields.fail(f"field assignment.'group_by' must be one of {', '.join(GROUPINGS)}")
    bools = {"comment.enabled": comment.get("enabled", True),
             "blinding.other_raters": blinding.get("other_raters", True),
             "blinding.model_scores": blinding.get("model_scores", True),
             "assignment.shuffle": assignment.get("shuffle", True)}
    for name, value in bools.items():
        if not isinstance(value, bool):
            fields.fail(f"field {name!r} must be true or false")
    seed = assignment.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool):
        fields.fail("field assignment.'seed' must be an integer")
    return {"comment_enabled": bools["comment.enabled"],
            "comment_label": str(comment.get("label", "Comments")),
            "blind_other_raters": bools["blinding.other_raters"],
            "blind_model_scores": bools["blinding.model_scores"], "seed": seed,
            "group_by": group_by, "shuffle": bools["assignment.shuffle"]}
