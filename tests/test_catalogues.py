"""Every sentence of the interface is in a gettext catalogue, and the catalogues agree.

``pybabel extract`` (the real command, its mapping in ``pyproject.toml``) runs over each package
into a temporary .pot; the package's Chinese catalogue must translate every sentence it finds (not
missing, not fuzzy, not empty) and hold nothing the code no longer says. Across the catalogues and
the field app's own table (``field_client/pwa/js/i18n.js``) one English sentence has one Chinese
sentence, and a sentence that names a vocabulary value uses the vocabulary's word for it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from sync import vocabulary
from sync.records import RECORD_TYPES, Choice
from sync.translations import parse_po

ROOT = Path(__file__).resolve().parent.parent
PYBABEL = Path(sys.executable).with_name("pybabel")
KEYWORDS = ["-k", "_l", "-k", "lazy_gettext"]  # besides pybabel's own (_, gettext, N_, ...)
PACKAGES = {
    package: ROOT / package / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
    for package in ("server", "field_client", "demo")
}
APP_TEXT = ROOT / "field_client" / "pwa" / "js" / "i18n.js"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|\{(\w+)\}")


def extracted(package: str, folder: Path) -> dict[tuple[str | None, str], object]:
    """What ``pybabel extract`` finds in a package: (context, msgid) -> message."""
    pot = folder / f"{package}.pot"
    subprocess.run(
        [str(PYBABEL), "extract", "-F", str(ROOT / "pyproject.toml"), *KEYWORDS,
         "--no-location", "-o", str(pot), str(ROOT / package)],
        check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    with pot.open("rb") as handle:
        return {(m.context, _first(m.id)): m for m in read_po(handle) if m.id}


@cache
def catalogue(package: str) -> dict[tuple[str | None, str], object]:
    with PACKAGES[package].open("rb") as handle:
        return {(m.context, _first(m.id)): m for m in read_po(handle) if m.id}


def _first(msgid: object) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]  # type: ignore[index,return-value]


def _strings(message: object) -> list[str]:
    string = message.string  # type: ignore[attr-defined]
    return [string] if isinstance(string, str) else list(string)


@pytest.mark.parametrize("package", PACKAGES)
def test_pybabel_finds_every_sentence_and_the_catalogue_translates_it(package, tmp_path):
    found = extracted(package, tmp_path)
    assert len(found) > 20, "the extraction saw the code"
    po = catalogue(package)
    missing = sorted(str(key) for key in found if key not in po)
    untranslated = sorted(
        str(key)
        for key, message in po.items()
        if message.fuzzy or not all(_strings(message))  # type: ignore[attr-defined]
    )
    unused = sorted(str(key) for key in po if key not in found)
    assert not missing, f"not in {PACKAGES[package].relative_to(ROOT)}: {missing}"
    assert not untranslated, f"fuzzy or empty: {untranslated}"
    assert not unused, f"no longer in the code: {unused}"


@pytest.mark.parametrize("package", PACKAGES)
def test_placeholders_survive_translation(package):
    for (_ctx, msgid), message in catalogue(package).items():
        if isinstance(message.id, str):
            assert _names(message.string) == _names(msgid), msgid
        else:  # a plural form may leave the number out ("One change")
            wanted = _names(msgid) | _names(message.id[1])
            assert all(_names(s) <= wanted for s in _strings(message)), msgid


def _names(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


@pytest.mark.parametrize("package", PACKAGES)
def test_the_runtime_reader_reads_what_babel_reads(package):
    entries, plural = parse_po(PACKAGES[package].read_text(encoding="utf-8"))
    expected = {
        (ctx + "\x04" if ctx else "") + msgid: _strings(message)
        for (ctx, msgid), message in catalogue(package).items()
    }
    assert entries == expected
    assert plural == "0"


def app_text() -> list[tuple[str, str]]:
    """The field app's own sentences (``TEXT = {key: [zh, en]}``): (English, Chinese)."""
    source = APP_TEXT.read_text(encoding="utf-8")
    body = source[source.index("const TEXT = {") : source.index("\n};", source.index("TEXT"))]
    string = r'"(?:[^"\\]|\\.)*"'
    pairs = re.findall(rf"^\s*\w+:\s*\[({string}),\s*({string})\]", body, re.MULTILINE)
    assert len(pairs) > 30, "the app's table was read"
    return [(json.loads(en), json.loads(zh)) for zh, en in pairs]


def sentences() -> list[tuple[str, str, str]]:
    """Every (where, English, Chinese) of the catalogues and the app, placeholders as {name}."""
    found = [("pwa/js/i18n.js", en, zh) for en, zh in app_text()]
    for package in PACKAGES:
        for (ctx, msgid), message in catalogue(package).items():
            if ctx is None and isinstance(message.id, str):
                found.append((package, msgid, message.string))  # type: ignore[attr-defined]
    return [(where, _braced(en).strip(), _braced(zh).strip()) for where, en, zh in found]


def _braced(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: "{" + (m[1] or m[2]) + "}", text)


def test_one_english_sentence_has_one_chinese_sentence_everywhere():
    chinese: dict[str, set[tuple[str, str]]] = {}
    for where, en, zh in sentences():
        chinese.setdefault(en, set()).add((where, zh))
    differ = {en: seen for en, seen in chinese.items() if len({zh for _w, zh in seen}) > 1}
    assert not differ, differ


def vocabulary_words() -> dict[str, set[str]]:
    """English name (lower case) -> Chinese names of every type, field and value."""
    words: dict[str, set[str]] = {}

    def add(en: str, zh: str) -> None:
        words.setdefault(en.lower(), set()).add(zh)

    for rtype in RECORD_TYPES.values():
        for many in (False, True):
            add(*(vocabulary.type_label(lang, rtype.name, many=many) for lang in ("en", "zh")))
        for name, rule in rtype.rules.items():
            add(*(vocabulary.field_label(lang, name) for lang in ("en", "zh")))
            for value in rule.values if isinstance(rule, Choice) else ():
                add(
                    *(
                        vocabulary.choice_label(lang, rtype.name, name, value)
                        for lang in ("en", "zh")
                    )
                )
    return words


def test_a_sentence_that_is_a_vocabulary_word_says_the_vocabulary_word():
    """A heading or label that is the name of a type, field or value ("Raised on", "Projects")
    has the vocabulary's Chinese, not a second spelling."""
    words = vocabulary_words()
    wrong = [
        (where, en, zh, "/".join(words[en.lower()]))
        for where, en, zh in sentences()
        if en.lower() in words and zh not in words[en.lower()]
    ]
    assert not wrong, wrong


STATES = ("status", "review_status", "priority", "satisfaction", "supervision")


def state_words() -> dict[str, set[str]]:
    """English name -> Chinese names of every state value (statuses, priorities, ...)."""
    words: dict[str, set[str]] = {}
    for rtype in RECORD_TYPES.values():
        for name, rule in rtype.rules.items():
            if isinstance(rule, Choice) and name in STATES:
                for value in rule.values:
                    en = vocabulary.choice_label("en", rtype.name, name, value)
                    zh = vocabulary.choice_label("zh", rtype.name, name, value)
                    words.setdefault(en.lower(), set()).add(zh)
    return words


# The same English word in another sense: a conflict is resolved (解决), not a concern (办结);
# a request or form is completed or accepted, not a project or a concern.
OTHER_SENSE = re.compile(r"conflict|could not be (completed|accepted)", re.IGNORECASE)


def test_a_sentence_names_a_state_with_the_vocabulary_word():
    """A sentence that names a status, priority, satisfaction or supervision level says the
    vocabulary's Chinese word for it (or its stem: 办结 for 已办结), never another spelling."""
    words = state_words()
    named = re.compile(
        r"(?<![\w-])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        + r")(?![\w-])", re.IGNORECASE,
    )  # fmt: skip
    checked, wrong = 0, []
    for where, en, zh in sentences():
        if OTHER_SENSE.search(en):
            continue
        for word in named.findall(PLACEHOLDER.sub("", en)):
            checked += 1
            if not any(z in zh or z.removeprefix("已") in zh for z in words[word.lower()]):
                wrong.append((where, en, zh, f"{word} is {'/'.join(words[word.lower()])}"))
    assert checked > 5, "sentences naming states were found"
    assert not wrong, wrong
