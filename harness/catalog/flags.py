"""The reference tables' marker for a value not confirmed in a primary source, defined once.

A row whose citation or notes contain "memory" or "flag" (any case) states a figure recalled or
derived rather than read from its source; such rows stay in every table, visibly flagged.
"""

from __future__ import annotations

FLAG_WORDS: tuple[str, ...] = ("memory", "flag")


def flag_words(text: str | None) -> list[str]:
    """The flag words `text` contains, in FLAG_WORDS order (empty: not flagged)."""
    low = (text or "").lower()
    return [w for w in FLAG_WORDS if w in low]


def is_flagged(text: str | None) -> bool:
    """Whether `text` marks its figure as unconfirmed."""
    return bool(flag_words(text))


def flag_snippets(field: str, text: str | None) -> list[str]:
    """Where each flag word sits in a field, with a little context, for a reader to judge."""
    text = text or ""
    low = text.lower()
    out = []
    for w in FLAG_WORDS:
        i = low.find(w)
        if i >= 0:
            a, b = max(0, i - 35), min(len(text), i + len(w) + 15)
            out.append(f"{field}: ...{text[a:b].strip()}...")
    return out
