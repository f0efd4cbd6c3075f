"""Reviews cut into clauses, the unit an aspect's polarity is judged on: "物流很快，但是质量很差" is
two clauses, logistics praised and quality blamed, where the whole review has one polarity.

Clauses end at punctuation (full-width or not), line breaks and runs of spaces, and before a
contrast word (但是, 可是, 不过, 就是, 然而, 只是, and 但 unless it is 不但's). A clause with no letter,
digit or hanzi (emoji, punctuation) is dropped; a very long one (a review without punctuation) is
cut into pieces of at most MAX_CLAUSE_CHARS, so no text is too long to tag or score.
"""

import re

MAX_CLAUSE_CHARS = 120
CONTRAST_WORDS = ("但是", "可是", "不过", "就是", "然而", "只是", "不過", "但")
_CONTRAST = re.compile(r"(但是|可是|不过|不過|就是|然而|只是|(?<!不)但(?!是))")
_BOUNDARY = re.compile(r"[，,。.!！?？;；:：~～、…\n\r\t]+|\s{2,}|\x00")
_WORD_CHARACTER = re.compile(r"\w")
_LEADING_CONTRAST = re.compile(r"^(但是|可是|不过|不過|就是|然而|只是|但)")


def split_clauses(text: str | None) -> list[str]:
    """The clauses of a review, in order; [] for an empty or symbol-only text."""
    if not text:
        return []
    marked = _CONTRAST.sub("\x00\\1", text)
    clauses: list[str] = []
    for part in _BOUNDARY.split(marked):
        part = part.strip()
        if not part or not _WORD_CHARACTER.search(part):
            continue
        clauses.extend(part[start : start + MAX_CLAUSE_CHARS] for start in range(0, len(part), MAX_CLAUSE_CHARS))
    return clauses


def strip_contrast(clause: str) -> str:
    """The clause without its leading contrast word: "但是" says a turn is coming, not which way, and
    a review-level scorer learned it mostly from complaints."""
    return _LEADING_CONTRAST.sub("", clause).strip() or clause
