"""Every label of the office pages has a Simplified Chinese translation, and placeholders match."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from server.office.i18n import TRANSLATIONS, load_catalogue

OFFICE = Path(__file__).resolve().parents[2] / "server" / "office"
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def messages() -> dict[str, str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found: dict[str, str] = {}
    for filename, lineno, message, _c, _ctx in extract_from_dir(
        str(OFFICE), method_map, options_map=options, keywords=KEYWORDS
    ):
        found.setdefault(message, f"{filename}:{lineno}")
    return found


def test_every_message_is_translated_to_chinese():
    catalogue = load_catalogue("zh")
    found = messages()
    assert len(found) > 200  # the extraction really saw the templates and views
    missing = {m: where for m, where in found.items() if catalogue.gettext(m) == m}
    assert not missing, f"untranslated: {missing}"


def test_placeholders_survive_translation():
    catalogue = load_catalogue("zh")
    for message in messages():
        translated = catalogue.gettext(message)
        assert set(PLACEHOLDER.findall(message)) == set(PLACEHOLDER.findall(translated)), message


def test_catalogue_is_plain_po_in_the_package():
    assert (TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po").is_file()
