"""Comparison protocols (``study_protocols/*_comparison.toml``, ``kind = "comparison"``): the
tasks of a blind A/B comparison study, each answered good / not for A and for B, then a
preference (issue 32). Format: ``study_protocols/README.md``."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from protoecg.study.protocol import PROTOCOL_FORMAT, ProtocolError, read_protocol_toml

DEFAULT_COMPARISON_PROTOCOL = "protoecgnet_ab_comparison.toml"  # shipped in study_protocols/
_TOP_KEYS = {"format", "kind", "id", "title", "version", "instructions", "tasks", "comment",
             "seed"}


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str  # "{label}" stands for the case's label


@dataclass(frozen=True)
class ComparisonProtocol:
    id: str
    title: str
    version: str
    instructions: str
    tasks: tuple[Task, ...]
    comment_enabled: bool = True
    comment_label: str = "Comments"
    seed: int = 42
    kind: str = "comparison"
    source: str = field(default="", compare=False)

    def task_ids(self) -> list[str]:
        return [t.id for t in self.tasks]

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("source")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ComparisonProtocol:
        """Rebuild from ``to_dict`` (as stored with a study)."""
        rest = {k: v for k, v in data.items() if k != "tasks"}
        return cls(tasks=tuple(Task(**t) for t in data["tasks"]), **rest)


def load_comparison_protocol(path: str | Path) -> ComparisonProtocol:
    """Read and validate a comparison protocol; every problem a ``ProtocolError`` naming the
    file and the field."""
    return parse_comparison_protocol(read_protocol_toml(path), str(path))


def parse_comparison_protocol(raw: dict, source: str = "protocol") -> ComparisonProtocol:
    def fail(message: str):
        raise ProtocolError(f"{source}: {message}")

    if raw.get("kind") != "comparison":
        fail("field 'kind' must be \"comparison\" (a rating protocol has no 'kind')")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        fail(f"unknown field {sorted(unknown)[0]!r} (expected {', '.join(sorted(_TOP_KEYS))})")
    if raw.get("format") != PROTOCOL_FORMAT:
        fail(f"field 'format' must be {PROTOCOL_FORMAT}")
    for name in ("id", "title", "instructions"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            fail(f"field {name!r} must be a non-empty string")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", raw["id"]):
        fail(f"field 'id' must be lower-case letters, digits and '-', got {raw['id']!r}")
    tasks = raw.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        fail("field 'tasks' must list at least one [[tasks]] table")
    seen = set()
    for i, task in enumerate(tasks):
        if not isinstance(task, dict) or set(task) != {"id", "prompt"}:
            fail(f"tasks[{i}]: expected exactly the fields 'id' and 'prompt'")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(task["id"])) or task["id"] in seen:
            fail(f"tasks[{i}].id: {task['id']!r} must be a unique lower-case word")
        seen.add(task["id"])
    comment = raw.get("comment", {})
    if not isinstance(comment, dict) or set(comment) - {"enabled", "label"}:
        fail("field 'comment': expected a table with 'enabled' and 'label'")
    seed = raw.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool):
        fail("field 'seed' must be an integer")
    return ComparisonProtocol(
        id=raw["id"], title=raw["title"], version=str(raw.get("version", "1")),
        instructions=" ".join(raw["instructions"].split()),
        tasks=tuple(Task(t["id"], t["prompt"]) for t in tasks),
        comment_enabled=bool(comment.get("enabled", True)),
        comment_label=str(comment.get("label", "Comments")), seed=seed, source=source)
