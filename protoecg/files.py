"""Reading and writing the JSON files stages hand each other, checked once where they are read.

Each artifact has one owner module (ARCHITECTURE.md, "Artifacts"); the owner names the file
and calls these with its stage's error class, so that a damaged file — missing, truncated, not
UTF-8, of the wrong JSON type or without a key its readers need — is one line naming the file
and what was expected, never a traceback from wherever the value is first used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from protoecg.errors import ProtoECGError

_TYPES = {dict: "a JSON object", list: "a JSON array"}
MAX_BYTES = 256 << 20


def _text(path: Path, error: type[ProtoECGError], what: str) -> str:
    if not path.is_file():
        raise error(f"{path}: missing ({what})")
    try:
        with open(path, "rb") as f:  # capped: these files are metadata, never this large
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise error(f"{path}: larger than {MAX_BYTES >> 20} MiB; expected {what}")
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); expected {what}") from None
    except OSError as exc:
        raise error(f"{path}: unreadable ({exc.strerror or exc}); expected {what}") from None


def _parse(text: str, path: Path, error: type[ProtoECGError], what: str, line: int | None = None):
    where = f"{path}" if line is None else f"{path}, line {line}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = exc.msg.startswith("Unterminated") or exc.pos >= len(text.rstrip()) - 1
        hint = " (truncated?)" if cut else ""
        raise error(f"{where}: not valid JSON{hint} ({exc.msg} at character {exc.pos}); "
                    f"expected {what}") from None


def check_object(value, where: str, error: type[ProtoECGError], what: str,
                 keys: Iterable[str] = (), kind: type = dict):
    """``value`` is of ``kind`` and (for an object) holds ``keys``; else ``error``."""
    if not isinstance(value, kind):
        got = type(value).__name__ if value is not None else "null"
        raise error(f"{where}: expected {_TYPES.get(kind, kind.__name__)}, got {got} ({what})")
    missing = [key for key in keys if key not in value]
    if missing:
        raise error(f"{where}: missing {', '.join(map(repr, missing))} (expected {what})")
    return value


def read_json(path: str | Path, error: type[ProtoECGError], what: str,
              keys: Iterable[str] = (), kind: type = dict):
    """The JSON value in ``path``, checked to be of ``kind`` with ``keys``."""
    path = Path(path)
    value = _parse(_text(path, error, what), path, error, what)
    return check_object(value, str(path), error, what, keys, kind)


def read_jsonl(path: str | Path, error: type[ProtoECGError], what: str) -> list[dict]:
    """One JSON object per non-empty line of ``path``."""
    path = Path(path)
    rows = []
    for number, line in enumerate(_text(path, error, what).splitlines(), 1):
        if line.strip():
            value = _parse(line, path, error, what, number)
            rows.append(check_object(value, f"{path}, line {number}", error, what))
    return rows


def write_json(path: str | Path, data) -> None:
    """Atomic JSON write (a crash never leaves half a file)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def append_jsonl(path: str | Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=_json_default) + "\n")


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
