"""Languages of the office pages: Simplified Chinese by default, English on request.

Messages are written in English in the code and templates; the Chinese is in the server's one
catalogue (``server.i18n``), which Flask-Babel asks through ``PoDomain``.
"""

from __future__ import annotations

from functools import cached_property

from flask import request, session
from flask_babel import Babel, Domain, get_locale

from server.i18n import Catalogue, texts

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"
COOKIE = "fieldsync_lang"


class _BabelCatalogue:
    """The names Flask-Babel calls, over the server's catalogue of one language."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.ugettext = self.gettext = catalogue.gettext
        self.ungettext = self.ngettext = catalogue.plural_form  # Flask-Babel fills it
        self.upgettext = self.pgettext = catalogue.pgettext


class PoDomain(Domain):
    """A Flask-Babel domain that answers from the server's catalogue."""

    def get_translations(self) -> _BabelCatalogue:
        locale = get_locale()
        return _BabelCatalogue(texts(locale.language if locale is not None else None))


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
