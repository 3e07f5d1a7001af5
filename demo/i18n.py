"""The demo's sentences in one catalogue (English in the code, Simplified Chinese beside it).

``texts(lang)`` is the catalogue of a language; a sentence it lacks shows in English, never as a
key. Names of record types, fields and values come from the one vocabulary in ``sync/``.
"""

from __future__ import annotations

from pathlib import Path

from sync.translations import N_, Catalogue, Texts

__all__ = ["N_", "Catalogue", "texts"]

texts = Texts.in_folder(Path(__file__).with_name("translations"))
