"""Which aspect tagger serves: the lexicon, or a learned tagger (the TF-IDF one of aspects/learned.py,
the transformer head of aspects/transformer.py) when it finds aspects better than the lexicon beyond
the noise on the hand-labelled test half: the sentiment model's rule. Each learned tagger's threshold,
and which of them challenges the lexicon, are chosen on the dev half first, so the test half only
ever judges one setting of one candidate (tuning on it would make its interval optimistic).

Detection alone is compared (which aspects a review names): polarity comes from the sentiment scorer
whichever tagger serves, so it cannot tell the taggers apart.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shopinsight_pipeline.aspects.clauses import split_clauses
from shopinsight_pipeline.aspects.evaluation import LabelledReview, aspect_report, paired_macro_f1
from shopinsight_pipeline.aspects.learned import TaggerGateSettings
from shopinsight_pipeline.aspects.lexicon import LEXICON, LexiconTagger
from shopinsight_pipeline.aspects.tagging import Tagger


@dataclass
class TaggerChoice:
    serving: str  # lexicon, or the learned challenger's kind
    threshold: float  # the challenger's, chosen on the dev half
    reason: str
    dev_macro_f1: dict[float, float] = field(default_factory=dict)  # the challenger's: threshold -> dev macro-F1
    test: dict[str, dict] = field(default_factory=dict)  # candidate -> aspect_report on the test half
    paired: dict = field(default_factory=dict)  # challenger minus lexicon on the test half
    challenger: str = ""  # the learned candidate best on the dev half: the only one the test half judges
    dev_best: dict[str, dict] = field(default_factory=dict)  # candidate -> its threshold and dev macro-F1
    dev_by_candidate: dict[str, dict[float, float]] = field(default_factory=dict)  # candidate -> threshold -> F1


class LearnedCandidate(Protocol):
    kind: str
    version: str
    lexicon: LexiconTagger

    def at_threshold(self, threshold: float) -> "LearnedCandidate": ...

    def tag(self, clauses: Sequence[str]) -> list[list[str]]: ...


def detected(tagger: Tagger, texts: Sequence[str]) -> list[dict[str, str]]:
    """The aspects each text names by `tagger` (clause by clause), as evaluation rows."""
    spans = [split_clauses(text) for text in texts]
    tags = iter(tagger.tag([clause for clauses in spans for clause in clauses]))
    rows = []
    for clauses in spans:
        found = {aspect for _ in clauses for aspect in next(tags)}
        rows.append(dict.fromkeys(sorted(found), "neutral"))
    return rows


def choose_tagger(
    learned: LearnedCandidate | Sequence[LearnedCandidate],
    labelled: Sequence[LabelledReview],
    settings: TaggerGateSettings | None = None,
) -> TaggerChoice:
    """Each learned candidate's threshold best on the dev half, the candidate best on the dev half
    (the challenger), then the challenger against the lexicon on the test half. Every candidate is
    reported on the test half, but only the challenger is judged there: picking the best of several
    on the test half would make its interval optimistic."""
    settings = settings or TaggerGateSettings()
    candidates: list[LearnedCandidate] = list(learned) if isinstance(learned, Sequence) else [learned]
    if not candidates:
        raise ValueError("no learned candidate to judge")
    lexicon_tagger = candidates[0].lexicon
    keys = lexicon_tagger.taxonomy.keys
    dev = [row for row in labelled if row.split == "dev"]
    test = [row for row in labelled if row.split == "test"]
    if not dev or not test:
        raise ValueError("the hand-labelled set needs a dev and a test half")

    dev_gold, dev_texts = [row.aspects for row in dev], [row.text for row in dev]
    dev_scores: dict[str, dict[float, float]] = {}
    for candidate in candidates:
        dev_scores[candidate.kind] = {
            threshold: aspect_report(dev_gold, detected(candidate.at_threshold(threshold), dev_texts), keys, rounds=1)[
                "macro_f1"
            ]
            for threshold in settings.thresholds
        }
    # a tie between candidates goes to the one listed first (the simpler one)
    best = {kind: _best_threshold(scores) for kind, scores in dev_scores.items()}
    challenger = max(candidates, key=lambda c: (dev_scores[c.kind][best[c.kind]], -candidates.index(c)))
    threshold = best[challenger.kind]
    test_gold, texts = [row.aspects for row in test], [row.text for row in test]
    lexicon = detected(lexicon_tagger, texts)
    reports = {LEXICON: aspect_report(test_gold, lexicon, keys, settings.confidence, settings.rounds)}
    predictions = {}
    for candidate in candidates:
        predictions[candidate.kind] = detected(candidate.at_threshold(best[candidate.kind]), texts)
        reports[candidate.kind] = aspect_report(
            test_gold, predictions[candidate.kind], keys, settings.confidence, settings.rounds
        )
    paired = paired_macro_f1(
        test_gold, predictions[challenger.kind], lexicon, keys, settings.confidence, settings.rounds
    )
    better = paired.significantly_better
    verdict = "better beyond the noise: it serves" if better else "not better beyond the noise: the lexicon serves"
    chosen = (
        f"{challenger.kind} (best of {', '.join(dev_scores)} on the dev half)"
        if len(candidates) > 1
        else challenger.kind
    )
    reason = (
        f"{chosen} at threshold {threshold} (best on the dev half) minus lexicon on the {len(test)} test "
        f"reviews: macro-F1 {paired.difference:+.4f} [{paired.low:+.4f}, {paired.high:+.4f}], {verdict}"
    )
    return TaggerChoice(
        challenger.kind if better else LEXICON,
        threshold,
        reason,
        dev_scores[challenger.kind],
        reports,
        paired.as_dict(),
        challenger.kind,
        {kind: {"threshold": best[kind], "macro_f1": dev_scores[kind][best[kind]]} for kind in dev_scores},
        dev_scores,
    )


def _best_threshold(scores: dict[float, float]) -> float:
    """The threshold of the highest dev macro-F1; a tie goes to the stricter one."""
    return max(scores, key=lambda threshold: (scores[threshold], threshold))
