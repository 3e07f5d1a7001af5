"""Chinese-aware similarity of short texts by shared character bigrams.

Concern titles are short Chinese phrases without spaces ("污水管道破裂", "污水管又坏了"), so words
are not available; overlapping pairs of characters are. Two titles are similar when their bigram
sets overlap enough (Dice coefficient), or when one contains the other.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["bigrams", "is_similar", "similarity"]

_DROP = re.compile(r"[\W_]+", re.UNICODE)
THRESHOLD = 0.3


def _normal(text: str) -> str:
    return _DROP.sub("", unicodedata.normalize("NFKC", text or "").casefold())


def bigrams(text: str) -> set[str]:
    """Return the overlapping character pairs of ``text`` (punctuation and spaces dropped)."""
    clean = _normal(text)
    if len(clean) == 1:
        return {clean}
    return {clean[i : i + 2] for i in range(len(clean) - 1)}


def similarity(a: str, b: str) -> float:
    """Return the Dice coefficient of the two texts' bigram sets (0.0 to 1.0)."""
    left, right = bigrams(a), bigrams(b)
    if not left or not right:
        return 0.0
    return 2 * len(left & right) / (len(left) + len(right))


def is_similar(a: str, b: str) -> bool:
    """Say whether two short titles probably describe the same concern."""
    na, nb = _normal(a), _normal(b)
    if len(na) >= 2 and len(nb) >= 2 and (na in nb or nb in na):
        return True
    return similarity(a, b) >= THRESHOLD
