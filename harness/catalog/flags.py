"""The reference tables' marker for a value not confirmed in a primary source, defined once, and
the rule that says which field a flag is about.

A row whose citation or notes contain "memory" or "flag" (any case) states a figure recalled or
derived rather than read from its source; such rows stay in every table, visibly flagged.

A flag concerns one field, not the whole row: "params 138M memory" doubts the parameter count,
which no fit uses, and should not take VGG-16 out of the per-pass or burden fits. Each cell is
split into clauses (at ';' outside brackets); a clause with a flag word is attributed by the
words it contains (`FIELD_WORDS`) to the error (any metric; "EM" and "F1" to that SQuAD score),
the per-pass compute, the hardware burden, or to a figure no fit uses ("params", a search
cost: a clause naming one is about that figure alone). A flagged clause that names none of these cannot be attributed and flags every field
(`UNATTRIBUTED`), which the reason says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FLAG_WORDS: tuple[str, ...] = ("memory", "flag")

# Fields a flag can concern; "other" is a figure no fit uses (parameter counts, search cost).
FIELDS: tuple[str, ...] = ("error", "em", "f1", "per_pass", "burden", "other")
FITTED_FIELDS: tuple[str, ...] = ("error", "em", "f1", "per_pass", "burden")
UNATTRIBUTED = "cannot be attributed to one field: flags every field"

# Words (regular expressions, matched case-blind) naming the field a clause is about.
FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "per_pass": (r"\bg?macs?\b", r"\bflops?\b", r"mult(iply)?-adds?", r"\bgflops\b"),
    "burden": (
        r"hardware",
        r"\bgpus?\b",
        r"\btpu",
        r"\bk80\b",
        r"\bv100\b",
        r"core[-_ ]days?",
        r"train(ing)?[_ ](hours|time)",
        r"run time",
        r"\bchips?\b",
        r"\bprocessors?\b",
        r"\breplicas?\b",
        r"\bdays?\b",
        r"\bhours?\b",
        r"\d ?h\b",
        r"\bsxm2\b",
        r"form factor",
    ),
    "em": (r"\bem\b", r"exact match"),
    "f1": (r"\bf1\b",),
    "error": (
        r"top-?[15]\b",
        r"accurac",
        r"\bbleu\b",
        r"\bap\b",
        r"\bvalue\b",
        r"\berr(or)?\b",
        r"\d%",
    ),
    "other": (r"\bparams?\b", r"parameters", r"\bsearch\b"),
}


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


def clauses(text: str | None) -> list[str]:
    """`text` split at ';' outside round brackets, each clause stripped."""
    out, depth, start = [], 0, 0
    text = text or ""
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == ";" and depth <= 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [c.strip() for c in out if c.strip()]


def clause_fields(clause: str) -> tuple[str, ...]:
    """The fields one clause names (empty: none)."""
    low = clause.lower()
    found = tuple(f for f in FIELDS if any(re.search(p, low) for p in FIELD_WORDS[f]))
    return ("other",) if "other" in found else found  # "params ...", "search cost ..."


@dataclass(frozen=True)
class FieldFlags:
    """The reasons a row's fields are doubtful, by field (an empty tuple: sound)."""

    reasons: dict[str, tuple[str, ...]]

    def of(self, *fields: str) -> tuple[str, ...]:
        """Reasons for any of `fields`, each once, in order."""
        out: list[str] = []
        for f in fields:
            out += [r for r in self.reasons.get(f, ()) if r not in out]
        return tuple(out)

    def any(self, *fields: str) -> bool:
        return bool(self.of(*fields))


def field_flags(**cells: str | None) -> FieldFlags:
    """Attribute every flagged clause of the named cells (e.g. citation=..., notes=...)."""
    reasons: dict[str, list[str]] = {f: [] for f in FIELDS}
    for cell, text in cells.items():
        for clause in clauses(text):
            words = flag_words(clause)
            if not words:
                continue
            fields = clause_fields(clause)
            short = clause if len(clause) <= 90 else clause[:87] + "..."
            if not fields:
                fields = FIELDS
                short += f" [{UNATTRIBUTED}]"
            for f in fields:
                reasons[f].append(f"{cell}: {short}")
    return FieldFlags({f: tuple(r) for f, r in reasons.items()})
