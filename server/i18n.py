"""The server's sentences (office pages, error pages, ``fieldsync-server`` lines) in one catalogue.

English in the code, marked ``_()``/``ngettext``/``N_``; Simplified Chinese in
``translations/zh/LC_MESSAGES/messages.po`` beside this module, read as text when first needed
(no compile step). ``texts(lang)`` is the catalogue of a language; a sentence it lacks shows in
English, never as a key.
"""

from __future__ import annotations

from pathlib import Path

from sync.translations import N_, Catalogue, Texts

__all__ = ["FOLDER", "N_", "Catalogue", "po_path", "texts"]

FOLDER = Path(__file__).with_name("translations")


def po_path(lang: str) -> Path:
    """Where the catalogue of ``lang`` lives."""
    return FOLDER / lang / "LC_MESSAGES" / "messages.po"


def _read(lang: str) -> str | None:
    path = po_path(lang)
    return path.read_text(encoding="utf-8") if path.is_file() else None


texts = Texts(_read)
