"""The server's sentences (office pages, error pages, ``fieldsync-server`` lines) in one catalogue.

English in the code, marked ``_()``/``ngettext``/``N_``; Simplified Chinese in
``translations/zh/LC_MESSAGES/messages.po`` beside this module. ``texts(lang)`` is the catalogue
of a language; a sentence it lacks shows in English, never as a key.
"""

from __future__ import annotations

from pathlib import Path

from sync.translations import N_, Catalogue, Texts

__all__ = ["N_", "Catalogue", "texts"]

texts = Texts.in_folder(Path(__file__).with_name("translations"))
