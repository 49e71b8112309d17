"""Running ``protoecg`` in-process the way a user's shell sees it, and the one-line error
promise every bad-input test checks."""

from __future__ import annotations

from protoecg.cli import main


def exit_code(argv: list[str]) -> int:
    """The exit code, whether the command returned it or argparse exited with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """Exit 2 and exactly one ``protoecg: error:`` line (no traceback) naming ``fragments``."""
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("protoecg: error: "), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
