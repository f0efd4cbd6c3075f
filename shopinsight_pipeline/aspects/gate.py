"""Which aspect tagger serves: the lexicon, or the learned tagger (aspects/learned.py) when it finds
aspects better than the lexicon beyond the noise on the hand-labelled test half: the sentiment
model's rule. The learned tagger's threshold is chosen on the dev half first, so the test half only
ever judges one setting (tuning on it would make its interval optimistic).

Detection alone is compared (which aspects a review names): polarity comes from the sentiment scorer
whichever tagger serves, so it cannot tell the taggers apart.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from shopinsight_pipeline.aspects.clauses import split_clauses
from shopinsight_pipeline.aspects.evaluation import LabelledReview, aspect_report, paired_macro_f1
from shopinsight_pipeline.aspects.learned import LearnedTagger, TaggerGateSettings
from shopinsight_pipeline.aspects.lexicon import LEXICON
from shopinsight_pipeline.aspects.tagging import Tagger


@dataclass
class TaggerChoice:
    serving: str  # lexicon or tfidf_ovr
    threshold: float  # the learned tagger's, chosen on the dev half
    reason: str
    dev_macro_f1: dict[float, float] = field(default_factory=dict)  # threshold -> macro-F1 on the dev half
    test: dict[str, dict] = field(default_factory=dict)  # candidate -> aspect_report on the test half
    paired: dict = field(default_factory=dict)  # learned minus lexicon on the test half


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
    learned: LearnedTagger, labelled: Sequence[LabelledReview], settings: TaggerGateSettings | None = None
) -> TaggerChoice:
    """The threshold best on the dev half, then the learned tagger against the lexicon on the test half."""
    settings = settings or TaggerGateSettings()
    keys = learned.lexicon.taxonomy.keys
    dev = [row for row in labelled if row.split == "dev"]
    test = [row for row in labelled if row.split == "test"]
    if not dev or not test:
        raise ValueError("the hand-labelled set needs a dev and a test half")

    dev_gold = [row.aspects for row in dev]
    dev_scores = {
        threshold: aspect_report(
            dev_gold, detected(learned.at_threshold(threshold), [r.text for r in dev]), keys, rounds=1
        )["macro_f1"]
        for threshold in settings.thresholds
    }
    threshold = max(dev_scores, key=lambda value: (dev_scores[value], value))  # a tie goes to the stricter
    test_gold, texts = [row.aspects for row in test], [row.text for row in test]
    candidate, lexicon = detected(learned.at_threshold(threshold), texts), detected(learned.lexicon, texts)
    reports = {
        LEXICON: aspect_report(test_gold, lexicon, keys, settings.confidence, settings.rounds),
        learned.kind: aspect_report(test_gold, candidate, keys, settings.confidence, settings.rounds),
    }
    paired = paired_macro_f1(test_gold, candidate, lexicon, keys, settings.confidence, settings.rounds)
    better = paired.significantly_better
    verdict = "better beyond the noise: it serves" if better else "not better beyond the noise: the lexicon serves"
    reason = (
        f"{learned.kind} at threshold {threshold} (best on the dev half) minus lexicon on the {len(test)} test "
        f"reviews: macro-F1 {paired.difference:+.4f} [{paired.low:+.4f}, {paired.high:+.4f}], {verdict}"
    )
    return TaggerChoice(learned.kind if better else LEXICON, threshold, reason, dev_scores, reports, paired.as_dict())
