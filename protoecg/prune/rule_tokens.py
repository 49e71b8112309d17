"""The prune rule language's tokens (``rules.py`` parses them) and its one error."""

from __future__ import annotations

import re
from dataclasses import dataclass

from protoecg.errors import ProtoECGError

# ASCII only: Python's \d and float() also read other scripts' digits ("١", "１" as 1)
TOKEN = re.compile(r"\s*(?:(?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
                   r"|(?P<text>\"[^\"]*\"|'[^']*')"
                   r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)"
                   r"|(?P<op><=|>=|==|!=|<|>)|(?P<paren>[()]))", re.ASCII)


class RuleError(ProtoECGError):
    """A prune rule that does not parse or names an unknown question."""

    def __init__(self, rule: str, column: int, problem: str):
        self.rule, self.column, self.problem = rule, column, problem
        super().__init__(f"rule {_excerpt(rule, column)!r}, column {column}: {problem}")


def _excerpt(rule: str, column: int, width: int = 60) -> str:
    """The rule as the error quotes it: whole when short, else the part around ``column``."""
    if len(rule) <= width:
        return rule
    start = max(0, min(column - 1 - width // 2, len(rule) - width))
    return ("…" if start else "") + rule[start:start + width] + (
        "…" if start + width < len(rule) else "")


@dataclass(frozen=True)
class Token:
    kind: str  # number text name op paren end
    text: str
    column: int


def tokens(rule: str) -> list[Token]:
    out, position = [], 0
    while position < len(rule):
        if rule[position:].strip() == "":
            break
        match = TOKEN.match(rule, position)
        if not match or match.end() == position:
            column = position + len(rule[position:]) - len(rule[position:].lstrip()) + 1
            raise RuleError(rule, column, f"unexpected character {rule[column - 1]!r}")
        kind = match.lastgroup
        start = match.start(kind)
        out.append(Token(kind, match.group(kind), start + 1))
        position = match.end()
    out.append(Token("end", "", len(rule) + 1))
    return out
