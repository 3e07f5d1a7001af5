"""The field client's sentences (``fieldsync`` lines, the local web pages) in one catalogue.

English in the code and templates, marked ``_()``/``gettext``/``N_``; Simplified Chinese in
``translations/zh/LC_MESSAGES/messages.po`` beside this module. ``texts(lang)`` is the catalogue
of a language; a sentence it lacks shows in English, never as a key. Names of record types, fields
and values come from the one vocabulary in ``sync/``.
"""

from __future__ import annotations

from pathlib import Path

from sync.translations import N_, Catalogue, Texts

__all__ = ["N_", "Catalogue", "texts"]

texts = Texts.in_folder(Path(__file__).with_name("translations"))
