"""Languages of the office pages: Simplified Chinese by default, English on request.

Messages are written in English in the code and templates; the Chinese catalogue is the plain
gettext file ``translations/zh/LC_MESSAGES/messages.po``. It is compiled in memory the first time
it is needed (Babel's own reader and writer), so a fresh clone needs no ``pybabel compile`` step.
"""

from __future__ import annotations

import io
from functools import cached_property
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import request, session
from flask_babel import Babel, Domain, get_locale

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"
COOKIE = "fieldsync_lang"

_compiled: dict[str, Translations | NullTranslations] = {}


def load_catalogue(language: str) -> Translations | NullTranslations:
    """Compile the .po catalogue of a language in memory (once per process)."""
    if language not in _compiled:
        po_path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
        if not po_path.exists():
            _compiled[language] = NullTranslations()
        else:
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            _compiled[language] = Translations(fp=buffer)
    return _compiled[language]


class PoDomain(Domain):
    """A Flask-Babel domain that reads the .po catalogue directly."""

    def get_translations(self) -> Translations | NullTranslations:
        locale = get_locale()
        if locale is None or locale.language == "en":
            return NullTranslations()
        return load_catalogue(locale.language)


class OfficeBabel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:  # type: ignore[override]
        return PoDomain()


def select_language() -> str:
    """Pick the language: the session's choice, then the cookie's, then Chinese."""
    for choice in (session.get("lang"), request.cookies.get(COOKIE)):
        if choice in LANGUAGES:
            return str(choice)
    return DEFAULT_LANGUAGE


babel = OfficeBabel()
