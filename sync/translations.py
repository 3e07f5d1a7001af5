"""Interface text in gettext catalogues: English in the code, Simplified Chinese by default.

Sentences are written in English where they are used, marked ``_()``, ``gettext``, ``ngettext``
or ``N_`` (a marker for a sentence kept in a table and translated later), so ``pybabel extract``
finds every one. Each package keeps its Chinese in a plain gettext file beside its code,
``translations/zh/LC_MESSAGES/messages.po``, read once when first asked (package data, like
``vocabulary.json``; no compile step). Names of record types, fields and values are not sentences:
they come from the one vocabulary (``sync.vocabulary``).

A sentence missing from a catalogue (or marked fuzzy, or empty) shows in English, never as a key.
"""

from __future__ import annotations

import ast
import gettext
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_LANG", "LANGS", "Catalogue", "N_", "Texts", "parse_po"]

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
_CONTEXT = "\x04"  # gettext's separator of a message's context and its id


def N_(message: str) -> str:  # noqa: N802 - the gettext name of the marker
    """Mark a sentence for extraction where it is defined; translate it where it is shown."""
    return message


def parse_po(text: str) -> tuple[dict[str, list[str]], str]:
    """Read a .po file's text: (id -> translated forms, Plural-Forms expression).

    An id is ``context + "\\x04" + msgid`` when the entry has a context. Fuzzy, obsolete and
    untranslated entries are left out, so they show in the source language.
    """
    entries: dict[str, list[str]] = {}
    plural = "(n != 1)"
    for entry in _entries(text):
        if entry.get("msgid") == [""]:
            plural = _plural_of(_joined(entry.get("msgstr", [""])))
            continue
        forms = _forms(entry)
        if "fuzzy" in entry.get("flags", []) or not forms or not all(forms):
            continue
        key = _joined(entry["msgid"])
        if "msgctxt" in entry:
            key = _joined(entry["msgctxt"]) + _CONTEXT + key
        entries[key] = forms
    return entries, plural


def _entries(text: str) -> list[dict[str, list[str]]]:
    """Split a .po text into entries: keyword -> its string pieces (and ``flags``)."""
    found: list[dict[str, list[str]]] = []
    entry: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in text.splitlines() + [""]:
        line = raw.strip()
        if not line or (line.startswith("#") and "msgid" in entry):
            if entry:
                found.append(entry)
            entry, current = {}, []
        if line.startswith("#,"):
            entry.setdefault("flags", []).extend(f.strip() for f in line[2:].split(","))
        elif line.startswith('"'):
            current.append(ast.literal_eval(line))
        elif line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            current = entry.setdefault(keyword, [])
            current.append(ast.literal_eval(rest.strip()))
    return found


def _joined(pieces: list[str]) -> str:
    return "".join(pieces)


def _forms(entry: Mapping[str, list[str]]) -> list[str]:
    """The translated forms of an entry: ``msgstr``, or ``msgstr[0]``, ``msgstr[1]``, ..."""
    if "msgstr" in entry:
        return [_joined(entry["msgstr"])]
    forms: list[str] = []
    while f"msgstr[{len(forms)}]" in entry:
        forms.append(_joined(entry[f"msgstr[{len(forms)}]"]))
    return forms


def _plural_of(header: str) -> str:
    for line in header.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "plural-forms" and "plural=" in value:
            return value.split("plural=", 1)[1].strip().rstrip(";")
    return "(n != 1)"


class Catalogue:
    """One language's sentences: the English source itself, or a catalogue's translations.

    ``gettext`` and ``ngettext`` fill ``%(name)s`` placeholders from keyword arguments, as
    Flask-Babel does; a missing translation gives the English source.
    """

    def __init__(self, entries: Mapping[str, list[str]] | None = None, plural: str = "") -> None:
        self._entries = dict(entries or {})
        self._plural = gettext.c2py(plural or "(n != 1)")

    @classmethod
    def from_po(cls, text: str) -> Catalogue:
        """The catalogue of a .po file's text."""
        entries, plural = parse_po(text)
        return cls(entries, plural)

    def __contains__(self, message: object) -> bool:
        return message in self._entries

    def gettext(self, message: str, /, **params: Any) -> str:
        forms = self._entries.get(message)
        return _filled(forms[0] if forms else message, params)

    def ngettext(self, msgid1: str, msgid2: str, n: int, /, **params: Any) -> str:
        """The form for ``n``, filled (``%(num)d`` is ``n``)."""
        return _filled(self.plural_form(msgid1, msgid2, n), {"num": n, **params})

    def plural_form(self, msgid1: str, msgid2: str, n: int) -> str:
        """The form of a sentence for ``n``, unfilled."""
        forms = self._entries.get(msgid1)
        if forms:
            return forms[min(self._plural(n), len(forms) - 1)]
        return msgid1 if n == 1 else msgid2

    def pgettext(self, context: str, message: str, /, **params: Any) -> str:
        forms = self._entries.get(context + _CONTEXT + message)
        return _filled(forms[0] if forms else message, params)


def _filled(text: str, params: Mapping[str, Any]) -> str:
    """Fill ``%(name)s`` placeholders; a sentence whose placeholders do not fit stays as it is."""
    if not params:
        return text
    try:
        return text % params
    except (KeyError, ValueError, TypeError):
        return text


class Texts:
    """A package's sentences in every language, its catalogues read once when first asked.

    ``read(lang)`` returns the text of the package's .po file for a language (None: none).
    English is the source language and needs no catalogue; an unknown language is the default.
    """

    def __init__(self, read: Callable[[str], str | None]) -> None:
        self._read = read
        self._catalogues: dict[str, Catalogue] = {"en": Catalogue()}

    @classmethod
    def in_folder(cls, folder: Path) -> Texts:
        """The sentences whose catalogues are ``folder/<lang>/LC_MESSAGES/messages.po``."""

        def read(lang: str) -> str | None:
            path = folder / lang / "LC_MESSAGES" / "messages.po"
            return path.read_text(encoding="utf-8") if path.is_file() else None

        return cls(read)

    def __call__(self, lang: str | None) -> Catalogue:
        """The catalogue of ``lang`` ("zh" or "en"; anything else is Simplified Chinese)."""
        code = lang if lang in LANGS else DEFAULT_LANG
        if code not in self._catalogues:
            text = self._read(code)
            self._catalogues[code] = Catalogue.from_po(text) if text else Catalogue()
        return self._catalogues[code]
