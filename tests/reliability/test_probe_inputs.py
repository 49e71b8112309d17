"""The inputs a reliability probe found accepted or ending in a traceback (issue 31): prune rules
nested thousands deep, numbers that overflow or are written in other scripts' digits, a protocol
path naming an endless device, reviewer names an import would create empty, blank or thousands
of characters long. Each is one line, exit 2, and nothing stored changes."""

import pytest

from protoecg.prune.rules import MAX_DEPTH, RuleError, parse_rule
from protoecg.resources import protocol_path
from tests._cli import assert_one_line_error
from tests._cli import exit_code as main
from tests._synthetic_catalog import SMALL, write_synthetic_catalog
from tests.reliability.test_bad_options import tree_digest

RULES = {
    "2,000 parentheses": ("(" * 2000 + "bad >= 1" + ")" * 2000, f"more than {MAX_DEPTH} deep"),
    "3,000 nots": ("not " * 3000 + "bad >= 1", f"more than {MAX_DEPTH} deep"),
    "a value in 2,000 parentheses": ("(" * 2000 + "bad" + ")" * 2000 + " >= 1",
                                     f"more than {MAX_DEPTH} deep"),
    "1e999999": ("bad >= 1e999999", "number 1e999999 is too large"),
    "Arabic-Indic one": ("bad >= \u0661", "unexpected character"),
    "full-width one": ("bad >= \uff11", "unexpected character"),
}


@pytest.mark.parametrize("case", list(RULES))
def test_a_rule_the_probe_found_is_refused_in_one_line(case):
    rule, expected = RULES[case]
    with pytest.raises(RuleError) as info:
        parse_rule(rule, ["representativeness"])
    message = str(info.value)
    assert expected in message
    assert "\n" not in message and len(message) < 300  # the rule is quoted around the fault


def test_nesting_up_to_the_limit_still_parses():
    depth = MAX_DEPTH - 1
    tree = parse_rule("(" * depth + "bad >= 1" + ")" * depth)
    assert parse_rule("bad >= 1") == tree
    assert parse_rule("not " * depth + "bad >= 1") is not None


@pytest.fixture
def study(tmp_path, capsys):
    catalog = write_synthetic_catalog(tmp_path / "catalog", SMALL)
    db = tmp_path / "review.db"
    assert main(["study", "create", "--db", str(db), "--protocol", str(protocol_path()),
                 "--catalog", str(catalog), "--name", "s1"]) == 0
    capsys.readouterr()
    return tmp_path


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_protocol_path_naming_a_device_is_refused(study, capsys, device):
    db = study / "new.db"
    code = main(["study", "create", "--db", str(db), "--protocol", device,
                 "--catalog", str(study / "catalog"), "--name", "s2"])
    assert_one_line_error(code, capsys.readouterr().err, device, "not a file")
    assert not db.exists()


def test_an_oversized_protocol_file_is_refused_unread(study, capsys):
    from protoecg.study.protocol import MAX_PROTOCOL_BYTES

    big = study / "big.toml"
    big.write_bytes(protocol_path().read_bytes() + b"# padding\n" * (MAX_PROTOCOL_BYTES // 10))
    db = study / "new.db"
    code = main(["study", "create", "--db", str(db), "--protocol", str(big),
                 "--catalog", str(study / "catalog"), "--name", "s2"])
    assert_one_line_error(code, capsys.readouterr().err, "big.toml", "larger than 1024 KiB")
    assert not db.exists()


NAMES = {
    "empty": ('""', "reviewer name is empty"),
    "only spaces": ('"   "', "reviewer name is empty"),
    "5,000 characters": ("x" * 5000, "at most 100 characters, got 5000"),
    "a space before": ('" Dr B"', "begins or ends with spaces"),
}


@pytest.mark.parametrize("case", list(NAMES))
def test_import_refuses_a_reviewer_name_the_app_would_refuse(study, capsys, case):
    name, expected = NAMES[case]
    csv = study / "ratings.csv"
    prototype = (study / "catalog" / "prototypes.csv").read_text().splitlines()[1].split(",")[0]
    csv.write_text("reviewer,prototype_id,question,answer\n"
                   f"{name},{prototype},representativeness,4\n")
    before = tree_digest(study)
    code = main(["study", "import-ratings", "--db", str(study / "review.db"), "--study", "s1",
                 "--csv", str(csv), "--create-reviewers"])
    assert_one_line_error(code, capsys.readouterr().err, "ratings.csv line 2", expected)
    assert tree_digest(study) == before
