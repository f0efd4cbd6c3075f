"""The lexicon tagger: a clause mentions an aspect when it contains one of the aspect's seeds.

All seeds are one compiled alternation, longest first (so 物流很慢 wins over 物流 where both are
seeds), matched case-insensitively; one pass over a clause finds every aspect it names. It is the
baseline every learned tagger must beat on the hand-labelled set, and its weak labels are what the
learned taggers train on.
"""

import re
from collections.abc import Sequence

from shopinsight_pipeline.aspects.taxonomy import Taxonomy

LEXICON = "lexicon"


class LexiconTagger:
    kind = LEXICON

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.version = f"taxonomy-v{taxonomy.version}"
        self._aspect_of = {seed.casefold(): aspect.key for aspect in taxonomy.aspects for seed in aspect.seeds}
        alternatives = sorted(self._aspect_of, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(seed) for seed in alternatives), re.IGNORECASE)

    def aspects_of(self, clause: str) -> list[str]:
        """The aspects `clause` names, in taxonomy order."""
        found = {self._aspect_of[match.group(0).casefold()] for match in self._pattern.finditer(clause)}
        return [key for key in self.taxonomy.keys if key in found]

    def tag(self, clauses: Sequence[str]) -> list[list[str]]:
        return [self.aspects_of(clause) for clause in clauses]

    def mask(self, clause: str) -> str:
        """The clause without the seed words it contains (what is said about an aspect, not which),
        or the clause itself when nothing else is left."""
        return self._pattern.sub("", clause).strip() or clause

    def mask_with(self, clause: str, placeholder: str) -> str:
        """The clause with each seed word replaced by `placeholder` (a learned tagger's training text)."""
        return self._pattern.sub(placeholder, clause)
