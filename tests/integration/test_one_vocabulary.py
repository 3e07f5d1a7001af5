"""One vocabulary: a value has one name per language on every screen (office, field UI, CLI, demo).

Each front end is asked through its own helper, as its pages and lines do; and no front end keeps
a second table of those names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale

from demo import text as demo_words
from field_client import messages as cli_words
from field_client.web import i18n as field_words
from server.office import labels as office_words
from sync import vocabulary
from sync.records import RECORD_TYPES, Choice

ROOT = Path(__file__).resolve().parents[2]
CHOICES = [
    (rtype.name, name, value)
    for rtype in RECORD_TYPES.values()
    for name, rule in rtype.rules.items()
    if isinstance(rule, Choice)
    for value in rule.values
]
GROUP_OF = {where: group for group, where in field_words.GROUPS.items()}


@pytest.fixture(scope="module")
def office_app(tmp_path_factory) -> Flask:
    from server import create_app

    folder = tmp_path_factory.mktemp("vocab")
    return create_app({
        "DATABASE_URL": f"sqlite:///{folder / 'server.db'}", "INSTANCE_PATH": str(folder),
        "SECRET_KEY": "test", "TESTING": True, "AUTO_UPGRADE": True,
    })  # fmt: skip


@pytest.mark.parametrize("lang", vocabulary.LANGS)
def test_every_choice_value_has_the_same_words_on_every_screen(office_app, lang):
    with office_app.test_request_context(), force_locale(lang):
        for rtype, name, value in CHOICES:
            word = vocabulary.choice_label(lang, rtype, name, value)
            assert word and word != value or lang == "en", (rtype, name, value)
            assert office_words.choice_label(rtype, name, value) == word
            assert cli_words.label_of(rtype, name, value, lang) == word
            assert demo_words.choice_text(lang, rtype, name, value) == word
            if (rtype, name) in GROUP_OF:
                assert field_words.enum_label(lang, GROUP_OF[(rtype, name)], value) == word


@pytest.mark.parametrize("lang", vocabulary.LANGS)
def test_every_type_and_field_has_the_same_words_on_every_screen(office_app, lang):
    with office_app.test_request_context(), force_locale(lang):
        for rtype in RECORD_TYPES.values():
            word = vocabulary.type_label(lang, rtype.name)
            assert office_words.type_label(rtype.name) == word
            assert cli_words.type_name(rtype.name, lang) == word
            assert field_words.enum_label(lang, "record_type", rtype.name) == word
            for name in rtype.rules:
                word = vocabulary.field_label(lang, name)
                assert office_words.field_label(name) == word
                assert cli_words.field_name(name, lang) == word
                assert demo_words.field_name(lang, name) == word
                assert field_words.enum_label(lang, "field", name) == word


def test_no_front_end_keeps_its_own_names_of_choice_values():
    """Literals like ``"urgent": ("紧急", ...)`` or ``"urgent": "紧急"`` make a second catalogue.

    One such key in a file is a coincidence (``"other"`` of an error page); three are a table.
    """
    sources = [
        p for folder in ("server", "field_client", "demo") for p in (ROOT / folder).rglob("*.py")
    ]
    values = {value for _, _, value in CHOICES}
    pattern = re.compile(r'"([a-z_]+)":\s*\(?\s*(?:_l\()?"[^"]*[\u4e00-\u9fff]')
    found = {
        path.name: keys
        for path in sources
        if len(keys := values.intersection(pattern.findall(path.read_text(encoding="utf-8")))) > 2
    }
    assert not found
