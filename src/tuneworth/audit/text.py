"""Cheap text heuristics for the audit: normal forms, language, URLs, numbers, typo-like words, style.

No dictionaries or language models: a language guess from scripts and function words, and typos as
rare words one edit away from a frequent word of the same data set (the data is its own dictionary).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|io|co|de|fr|uk)\b", re.IGNORECASE)
NUMBER = re.compile(r"\d")

EN = set(
    ["the", "a", "an", "and", "or", "but", "if", "of", "to", "in", "on", "at", "for", "with", "from", "by", "is", "are", "was", "were", "be", "been", "am", "i", "you", "he", "she", "it", "we", "they", "me", "my", "your", "our", "their", "this", "that", "these", "those", "not", "no", "do", "does", "did", "have", "has", "had", "can", "could", "will", "would", "should", "what", "when", "where", "why", "how", "which", "who", "there", "here", "please", "thanks", "thank", "hi", "hello", "just", "so", "as", "about", "any", "all", "some"]
)
OTHER = set(
    # es, fr, de, it, pt, nl function words that are not English words
    ["el", "los", "las", "una", "unos", "del", "por", "para", "con", "que", "es", "muy", "pero", "como", "está", "y", "mi", "tu", "su", "le", "les", "des", "une", "est", "sont", "pas", "avec", "pour", "dans", "je", "vous", "nous", "mon", "ma", "et", "qui", "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "ich", "sie", "wir", "mein", "kein", "bitte", "danke", "il", "lo", "gli", "della", "sono", "non", "per", "che", "io", "ho", "o", "os", "um", "uma", "não", "com", "para", "eu", "meu", "obrigado", "het", "een", "en", "niet", "ik", "je", "wij", "mijn"]
)


def norm(text: str) -> str:
    """Case- and whitespace-insensitive form (the same one splits use to keep duplicates together)."""
    return _WS.sub(" ", text.strip().lower())


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def language(text: str) -> str | None:
    """``en``, ``other`` or None (too short to tell)."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 4 and sum(1 for c in letters if not c.isascii()) > 0.3 * len(letters):
        return "other"
    ws = words(text)
    if len(ws) < 3:
        return None
    en = sum(1 for w in ws if w in EN)
    other = sum(1 for w in ws if w in OTHER and w not in EN)
    if other > en and other >= 2:
        return "other"
    return "en" if en else None


def near_empty(text: str) -> bool:
    return sum(1 for c in text if c.isalnum()) <= 2


def _deletes(w: str) -> set[str]:
    return {w[:i] + w[i + 1 :] for i in range(len(w))}


def typo_words(
    texts: Iterable[list[str]], *, min_len: int = 5, common: int = 3, known: frozenset[str] = frozenset()
) -> dict[str, str]:
    """Words seen once that are one edit (insert, delete, substitute) from a word seen ``common``+ times,
    mapped to that word. ``known`` words (e.g. whole words of a tokenizer's vocabulary) are never typos."""
    counts = Counter(w for ws in texts for w in ws)
    frequent = [w for w, c in counts.items() if c >= common and len(w) >= min_len - 1]
    index: dict[str, str] = {}
    for w in frequent:
        index.setdefault(w, w)
        for d in _deletes(w):
            index.setdefault(d, w)
    out: dict[str, str] = {}
    for w, c in counts.items():
        if c != 1 or len(w) < min_len or w in known:
            continue
        for cand in (w, *_deletes(w)):
            hit = index.get(cand)
            # a shared prefix is inflection (table/tables, book/booked), not a typo
            if hit is not None and hit != w and not (hit.startswith(w) or w.startswith(hit)):
                out[w] = hit
                break
    return out


def casing(text: str) -> str:
    """How a text starts: ``upper``, ``lower`` or ``other`` (digit, symbol)."""
    s = text.lstrip()
    if not s or not s[0].isalpha():
        return "other"
    return "upper" if s[0].isupper() else "lower"


def end_punct(text: str) -> bool:
    return text.rstrip()[-1:] in {".", "!", "?"}


def share(flags: Iterable[bool]) -> float:
    fs = list(flags)
    return sum(fs) / len(fs) if fs else 0.0


def robust_outliers(values: list[float], z: float = 5.0) -> list[int]:
    """Indices whose robust z-score (median / MAD) exceeds ``z``; none when the spread is zero."""
    if len(values) < 10:
        return []
    xs = sorted(values)
    med = xs[len(xs) // 2]
    mad = sorted(abs(v - med) for v in values)[len(values) // 2]
    if mad == 0:
        return []
    scale = 1.4826 * mad
    return [i for i, v in enumerate(values) if abs(v - med) / scale > z]
