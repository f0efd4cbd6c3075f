"""Personal data in review text, found and replaced by a typed placeholder (issue 27.1).

Pure Python and polars, no Dagster: validation masks every review text before it reaches silver, so
token shards, models, scores, insights and the report only ever see `[PHONE]`, `[EMAIL]`, `[ID]`,
`[CARD]`, `[HANDLE]` or `[URL]`. Bronze keeps the original (the restricted zone).

Why our own patterns and not Microsoft Presidio: its pattern recognizers are US/EU formats (we
need mainland mobiles, resident-ID checksums, WeChat and QQ handles), its analyzer loads a spaCy
language model that must be downloaded (this pipeline runs offline), and tldextract, which it
pulls in, fetches the public suffix list at run time. What we need is regular expressions with
validators (the ID checksum, Luhn), which is what follows.

Precision matters as much as recall: an order number, a price or a model number is not personal.
So an 18-digit number is an ID only when its birth date is a date and its checksum holds, a card
number only with a card prefix and a valid Luhn digit, a bare number a handle only after 微信 or QQ,
and a URL only when it carries a query string. Full-width digits and separators are matched as
their ASCII forms (the text is read through a one-to-one character map, so spans stay in place).
"""

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl

PLACEHOLDERS: dict[str, str] = {kind: f"[{kind}]" for kind in ("URL", "EMAIL", "ID", "CARD", "PHONE", "HANDLE")}
KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)  # also the priority when two findings overlap

# Full-width forms (U+FF01..U+FF5E) -> ASCII, the ideographic space -> space, and the dashes people
# type between digit groups -> '-': one character for one, so a span in the view is a span in the text.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_HALF_WIDTH |= {0x3000: ord(" "), 0x2014: ord("-"), 0x2013: ord("-"), 0x2212: ord("-"), 0x2010: ord("-")}

_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])(?![ -][0-9])"  # nor followed by one more group of digits
# nor inside a longer group of digits set apart by spaces or dashes (a card, a tracking number)
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z_])(?<![0-9][ -])"

_URL = re.compile(
    r"(?:https?://|www\.)[^\s?#\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+\?[^\s\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+",
    re.I,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ID = re.compile(_NOT_ALNUM_BEFORE + r"[1-9]\d{5}(?:19|20)\d{2}\d{4}\d{3}[0-9Xx]" + _NOT_DIGIT_AFTER)
_CARD = re.compile(
    _NOT_ALNUM_BEFORE + r"(?:4\d{3}|5[1-5]\d{2}|62\d{2})(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?" + _NOT_DIGIT_AFTER
)
_MOBILE = re.compile(_NOT_ALNUM_BEFORE + r"(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _NOT_DIGIT_AFTER)
# a landline needs its area code set apart (010-12345678, (021)12345678, 0755 1234567): a bare run
# of digits that starts with 0 is as often an order or tracking number
_LANDLINE = re.compile(_NOT_ALNUM_BEFORE + r"(?:\(0\d{2,3}\)[ -]?|0\d{2,3}[ -])\d{3,4}[ -]?\d{4}" + _NOT_DIGIT_AFTER)
_WECHAT = re.compile(
    r"(?:微信号?|威信|[vV]信|[vV][xX]|[wW][xX]|weixin|wechat|WeChat|加[vV])\s*(?:号|id|ID)?\s*(?:是|为)?\s*[:：]?\s*"
    r"([A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])"
)
_QQ = re.compile(r"(?:QQ|qq|Qq|扣扣)\s*(?:号|群)?\s*(?:是|为|联系)?\s*[:：]?\s*([1-9]\d{4,11})" + _NOT_DIGIT_AFTER)

# A review that holds none of these characters holds nothing to mask: checked in polars first.
CANDIDATE = r"[0-9０-９@＠]|https?://|www\.|微信|威信|[vV]信|[vVwW][xX]|加[vV]|wechat|weixin|QQ|qq|扣扣"
_URL_TRAILING = ")]}>\"'.,;:!?"  # closing punctuation after a URL in running text is not part of it

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id_valid(number: str) -> bool:
    """An 18-character mainland resident ID: a real birth date and the ISO 7064 MOD 11-2 check character."""
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def luhn_valid(digits: str) -> bool:
    """The Luhn check digit of payment card numbers."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@dataclass(frozen=True)
class _Pattern:
    kind: str
    regex: re.Pattern
    group: int = 0  # the part of the match that is personal (a handle, not the word 微信 before it)
    valid: Callable[[str], bool] | None = None  # a validator of the matched text (a checksum)


_PATTERNS: tuple[_Pattern, ...] = (
    _Pattern("URL", _URL),
    _Pattern("EMAIL", _EMAIL),
    _Pattern("ID", _ID, valid=resident_id_valid),
    _Pattern("CARD", _CARD, valid=lambda found: 16 <= len(_digits(found)) <= 19 and luhn_valid(_digits(found))),
    _Pattern("PHONE", _MOBILE),
    _Pattern("PHONE", _LANDLINE),
    _Pattern("HANDLE", _WECHAT, group=1),
    _Pattern("HANDLE", _QQ, group=1),
)


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


def find_personal_data(text: str) -> list[Finding]:
    """Every span of `text` to mask, in order, none overlapping (an earlier kind in KINDS wins)."""
    view = text.translate(_HALF_WIDTH)
    found: list[Finding] = []
    for pattern in _PATTERNS:
        for match in pattern.regex.finditer(view):
            start, end = match.span(pattern.group)
            if pattern.kind == "URL":
                end = len(view[start:end].rstrip(_URL_TRAILING)) + start
            if pattern.valid is not None and not pattern.valid(view[start:end]):
                continue
            if not any(f.start < end and start < f.end for f in found):
                found.append(Finding(pattern.kind, start, end))
    return sorted(found, key=lambda finding: finding.start)


def mask_text(text: str) -> tuple[str, Counter]:
    """`text` with each finding replaced by its placeholder, and the count of each kind replaced."""
    findings = find_personal_data(text)
    if not findings:
        return text, Counter()
    parts, last = [], 0
    for finding in findings:
        parts += [text[last : finding.start], PLACEHOLDERS[finding.kind]]
        last = finding.end
    parts.append(text[last:])
    return "".join(parts), Counter(finding.kind for finding in findings)


@dataclass(frozen=True)
class MaskedColumn:
    """A text column after masking, and how many of each kind were replaced (every kind listed)."""

    values: pl.Series
    counts: dict[str, int]
    texts_masked: int


def mask_column(texts: pl.Series) -> MaskedColumn:
    """Mask every text of a column; nulls stay null. Only texts with a digit, an @, a URL or a
    handle word go through the patterns (most reviews have none)."""
    counts: Counter = Counter()
    candidates = texts.str.contains(CANDIDATE).fill_null(False)
    if not candidates.any():
        return MaskedColumn(texts, dict.fromkeys(KINDS, 0), 0)
    values = texts.to_list()
    masked_texts = 0
    for row in candidates.arg_true().to_list():
        masked, found = mask_text(values[row])
        if found:
            values[row] = masked
            counts += found
            masked_texts += 1
    return MaskedColumn(
        pl.Series(texts.name, values, dtype=pl.String), {kind: counts.get(kind, 0) for kind in KINDS}, masked_texts
    )


def surviving_personal_data(texts: pl.Series) -> dict[str, int]:
    """Kinds of personal data still found in a column that should hold only masked text (the
    blocking check on validated_reviews): kind -> texts that hold it; empty when clean."""
    survivors: Counter = Counter()
    candidates = texts.str.contains(CANDIDATE).fill_null(False)
    for text in texts.filter(candidates).to_list():
        survivors.update({finding.kind for finding in find_personal_data(text)})
    return dict(survivors)
