"""The one vocabulary: complete in both languages, rules speak in codes, nothing shows as a key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sync import vocabulary
from sync.records import RECORD_TYPES, Choice
from sync.vocabulary import Fault, fault_text

SYNC = Path(vocabulary.__file__).parent
RAW = json.loads((SYNC / "vocabulary.json").read_text(encoding="utf-8"))


def _pairs(node):
    """Every [zh, en] pair below a node of the raw file."""
    if isinstance(node, list):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _pairs(value)


def test_every_entry_has_both_languages():
    for pair in _pairs({k: v for k, v in RAW.items() if k != "about"}):
        assert len(pair) == 2 and all(isinstance(w, str) and w.strip() for w in pair), pair


def test_every_type_field_and_choice_value_is_named():
    for rtype in RECORD_TYPES.values():
        assert rtype.name in RAW["types"], rtype.name
        for name, rule in rtype.rules.items():
            assert name in RAW["fields"], (rtype.name, name)
            if isinstance(rule, Choice):
                named = vocabulary.choice_values(rtype.name, name)
                assert set(rule.values) <= set(named), (rtype.name, name)


def test_every_fault_code_in_the_code_has_words():
    used = set()
    for path in [*SYNC.glob("*.py"), *SYNC.parent.glob("server/**/*.py")]:
        used |= set(re.findall(r'Fault\("([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert used and not used - set(RAW["faults"])


def test_the_chinese_sentence_uses_no_parameter_the_english_one_lacks():
    for code, (zh, en) in RAW["faults"].items():
        assert set(re.findall(r"{(\w+)", zh)) <= set(re.findall(r"{(\w+)", en)), code


def test_a_word_missing_in_one_language_shows_the_other_never_a_key():
    assert vocabulary._pick(["", "Only English"], "zh") == "Only English"
    assert vocabulary._pick(["只有中文", ""], "en") == "只有中文"
    assert vocabulary.choice_label("zh", "concern", "priority", "low") == "低"
    assert vocabulary.choice_label("en", "concern", "category", "not_defined") == "not_defined"
    assert vocabulary.type_label("en", "follow_up") == "Follow-up"


def test_a_rule_returns_a_code_and_parameters_rendered_per_language():
    fault = RECORD_TYPES["concern"].rules["title"].check("x" * 201)
    assert isinstance(fault, Fault) and (fault.code, fault.params) == ("too_long", {"max": 200})
    assert fault == "must be at most 200 characters"  # its English sentence, for the wire
    assert fault.render("zh") == "最多 200 个字"
    assert fault_text("zh", "out_of_range", {"min": -90.0, "max": 90.0}) == "必须在 -90 到 90 之间"


@pytest.mark.parametrize("data", [{"code": "too_long", "params": {"max": 9}}, None, {"code": 3}])
def test_faults_survive_json_and_unknown_codes_keep_the_senders_text(data):
    revived = Fault.from_json(data, "sender's words")
    if data and data.get("code") == "too_long":
        assert isinstance(revived, Fault) and revived.render("zh") == "最多 9 个字"
    else:
        assert revived == "sender's words" and not isinstance(revived, Fault)


def test_packed_faults_come_back_as_faults():
    errors = {"title": [Fault("too_long", max=200), "plain words"]}
    packed = json.loads(json.dumps(vocabulary.pack_faults(errors)))
    back = vocabulary.unpack_faults(packed)
    assert back["title"][0].render("zh") == "最多 200 个字"
    assert back["title"][1] == "plain words"
    codes = {"kind": [{"code": "not_a_choice", "params": {"choices": "a, b"}}]}
    again = vocabulary.unpack_faults(vocabulary.pack_faults({"kind": ["must be one of"]}, codes))
    assert again["kind"][0].render("zh") == "不是允许的选项"


def test_the_export_is_plain_json_with_every_table():
    exported = json.loads(json.dumps(vocabulary.export(), ensure_ascii=False))
    assert {"types", "fields", "choices", "faults", "langs"} <= set(exported)
    assert exported["choices"]["follow_up.group"] == exported["choices"]["concern.raised_by_group"]
