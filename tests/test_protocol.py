import re
import tomllib

import pytest

from protoecg.study.protocol import Protocol, ProtocolError, load_protocol, parse_protocol
from tests.conftest import PAPER_PROTOCOL, REPO


def raw():
    return tomllib.loads(PAPER_PROTOCOL.read_text())


def test_the_papers_protocol():
    p = load_protocol(PAPER_PROTOCOL)
    assert [q.id for q in p.questions] == ["representativeness", "clarity"]
    assert p.questions[0].prompt == (
        "Representativeness: To what extent does the prototype reflect a typical/defining "
        "presentation of the target diagnostic class?")
    assert p.questions[1].prompt == (
        "Clarity: Is the signal in the prototype interpretable and clear, or does it contain "
        "a lot of noise/artifacts?")
    assert p.questions[0].values == [1, 2, 3, 4, 5]
    assert p.questions[0].label_of(1) == "Strongly disagree"
    assert p.questions[0].label_of(5) == "Strongly agree"
    assert [f.id for f in p.flags] == ["best", "bad"]
    assert p.raters_per_prototype == 3 and p.comment_enabled
    assert p.blind_other_raters and p.blind_model_scores
    assert p.group_by == "class" and p.shuffle
    assert Protocol.from_dict(p.to_dict()) == p


def test_every_shipped_protocol_is_valid():
    from protoecg.study.comparison_protocol import load_comparison_protocol

    kinds = {}
    for path in (REPO / "study_protocols").glob("*.toml"):
        if "comparison" in path.read_text():
            kinds[path.name] = load_comparison_protocol(path).kind
        else:
            kinds[path.name] = type(load_protocol(path)).__name__
    assert kinds == {"protoecgnet_clinician_review.toml": "Protocol",
                     "protoecgnet_ab_comparison.toml": "comparison"}


def test_a_comparison_protocol_is_refused_where_a_rating_protocol_is_needed_and_back(tmp_path):
    from protoecg.study.comparison_protocol import load_comparison_protocol

    with pytest.raises(ProtocolError, match="is a comparison protocol"):
        load_protocol(REPO / "study_protocols" / "protoecgnet_ab_comparison.toml")
    with pytest.raises(ProtocolError, match="field 'kind' must be \"comparison\""):
        load_comparison_protocol(REPO / "study_protocols" / "protoecgnet_clinician_review.toml")


@pytest.mark.parametrize("text, message", [
    ('tasks = []', "at least one [[tasks]]"),
    ('[[tasks]]\nid = "prototype"\nprompt = "a"\n[[tasks]]\nid = "prototype"\nprompt = "b"',
     "must be a unique lower-case word"),
    ('[[tasks]]\nid = "x"', "exactly the fields 'id' and 'prompt'"),
    ('seed = "7"\n[[tasks]]\nid = "x"\nprompt = "p"', "field 'seed' must be an integer"),
])
def test_a_bad_comparison_protocol_names_its_field(tmp_path, text, message):
    from protoecg.study.comparison_protocol import load_comparison_protocol

    head = ('format = 1\nkind = "comparison"\nid = "ab"\ntitle = "t"\n'
            'instructions = "i"\n')
    path = tmp_path / "p.toml"
    path.write_text(head + text + "\n")
    with pytest.raises(ProtocolError, match=re.escape(message)):
        load_comparison_protocol(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.pop("title"), "missing field 'title'"),
    (lambda r: r["questions"][0].pop("prompt"), "missing field questions[0].'prompt'"),
    (lambda r: r["questions"][0]["scale"].pop(2), "without gaps, got [1, 2, 4, 5]"),
    (lambda r: r["questions"][0]["scale"][1].update(label=" "), "scale[1].label is empty"),
    (lambda r: r["questions"][1].update(id="representativeness"), "must be unique"),
    (lambda r: r["questions"][1].update(id="best"), "must be unique"),
    (lambda r: r.update(colour="red"), "unknown field 'colour'"),
    (lambda r: r.update(raters_per_prototype=0), "'raters_per_prototype' must be at least 1"),
    (lambda r: r.update(raters_per_prototype="3"), "must be int"),
    (lambda r: r["assignment"].update(group_by="ward"), "group_by' must be one of"),
    (lambda r: r.update(format=2), "format 2 is not supported"),
    (lambda r: r.update(questions=[]), "at least one question"),
    # found by the property test in tests/reliability: a TypeError before
    (lambda r: r.update(flags=3), "field 'flags' must be a list"),
])
def test_bad_protocols_are_named(mutate, message):
    data = raw()
    mutate(data)
    with pytest.raises(ProtocolError) as info:
        parse_protocol(data, "study.toml")
    assert str(info.value).startswith("study.toml: ") and message in str(info.value)


def test_unknown_question_id():
    p = load_protocol(PAPER_PROTOCOL)
    with pytest.raises(ProtocolError, match="unknown question 'beauty'"):
        p.question("beauty")
