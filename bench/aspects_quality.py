"""Aspect tagging quality on the hand-labelled reviews (issue 24): detection per aspect, macro-F1
with its 95% interval, polarity accuracy and negative recall on the aspects found correctly.

    .venv/bin/python bench/aspects_quality.py --scorer MODEL_VERSION_DIR [--split dev|test]
        [--neutral-below 0.5,0.6,...] [--mask both|on|off] [--learned 0.5,0.7,...]

MODEL_VERSION_DIR is a sentiment registry version (e.g. the champion `make run` promoted:
data/lake/models/sentiment/champion.json's "path"); its scorer judges each clause's polarity, as
review_aspects does. Tune on the dev half; the test half is for reporting the chosen settings once.

--learned THRESHOLDS also fits the learned tagger (aspects/learned.py: TF-IDF one-vs-rest on the
lexicon's labels of every corpus clause, seed words masked; the labelled reviews' own texts left
out) and, for each threshold, prints its detection macro-F1 and its paired difference with the
lexicon's on the same reviews (the gate: it serves only when the interval lies above zero).
"""

import argparse
import itertools
from datetime import date
from pathlib import Path

import polars as pl

from shopinsight_pipeline.aspects.evaluation import aspect_report, aspects_by_review, load_labelled
from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.tagging import PolaritySettings, tag_reviews
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy
from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.ml.scorers import load_scorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scorer", type=Path, required=True)
    parser.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    parser.add_argument("--neutral-below", default="0.5,0.55,0.6,0.65,0.7")
    parser.add_argument("--mask", default="both", choices=["both", "on", "off"])
    parser.add_argument("--learned", default="", help="thresholds of the learned tagger to compare (e.g. 0.5,0.7)")
    arguments = parser.parse_args()

    labelled = load_labelled(split=None if arguments.split == "all" else arguments.split)
    taxonomy = load_taxonomy()
    lexicon = LexiconTagger(taxonomy)
    scorer = load_scorer(arguments.scorer)
    reviews = pl.DataFrame(
        {
            "review_id": [row.id for row in labelled],
            "product_id": ["P"] * len(labelled),
            "review_date": [date(2026, 1, 1)] * len(labelled),
            "review_text": [row.text for row in labelled],
        }
    )
    gold = [row.aspects for row in labelled]
    masks = {"both": [True, False], "on": [True], "off": [False]}[arguments.mask]
    thresholds = [float(value) for value in arguments.neutral_below.split(",")]
    rows, detection = [], None
    for mask, threshold in itertools.product(masks, thresholds):
        settings = PolaritySettings(neutral_below=threshold, mask_aspect_words=mask)
        tagged = tag_reviews(reviews, lexicon, scorer, arguments.scorer.name, settings, lexicon)
        report = aspect_report(gold, aspects_by_review(tagged, reviews["review_id"].to_list()), taxonomy.keys)
        detection = report
        rows.append(
            (
                "on" if mask else "off",
                threshold,
                f"{report['polarity_accuracy']:.3f}",
                f"{report['negative_recall']:.3f}",
                report["polarity_judged"],
            )
        )
    assert detection is not None
    print(f"{arguments.split} half: {len(labelled)} reviews; lexicon {lexicon.version}")
    low, high = detection["macro_f1_ci95"]
    print(
        f"detection macro-F1 {detection['macro_f1']:.3f} [{low:.3f}, {high:.3f}] over "
        f"{len(detection['aspects_scored'])} aspects; micro precision {detection['micro_precision']:.3f}, "
        f"recall {detection['micro_recall']:.3f}\n"
    )
    print(
        table(
            ["aspect", "labelled", "found", "precision", "recall", "F1"],
            [
                (
                    aspect,
                    numbers["support"],
                    numbers["predicted"],
                    "" if numbers["precision"] is None else f"{numbers['precision']:.2f}",
                    "" if numbers["recall"] is None else f"{numbers['recall']:.2f}",
                    "" if numbers["f1"] is None else f"{numbers['f1']:.2f}",
                )
                for aspect, numbers in detection["per_aspect"].items()
            ],
        )
    )
    print()
    print(table(["mask aspect words", "neutral below", "polarity accuracy", "negative recall", "judged"], rows))
    if arguments.learned:
        compare_learned(arguments, labelled, reviews, gold, lexicon, scorer)


def compare_learned(arguments, labelled, reviews, gold, lexicon, scorer) -> None:
    """The learned tagger at each threshold against the lexicon, paired on the same reviews."""
    import time

    from shopinsight_pipeline.aspects.clauses import split_clauses
    from shopinsight_pipeline.aspects.evaluation import paired_macro_f1
    from shopinsight_pipeline.aspects.learned import LearnedTagger
    from shopinsight_pipeline.sample import load_review_corpus

    held_out = {row.text for row in load_labelled()}  # both halves: never trained on, even weakly
    corpus = load_review_corpus()
    lines = [line for line in dict.fromkeys(corpus["neg"] + corpus["pos"]) if line not in held_out]
    clauses = [clause for line in lines for clause in split_clauses(line)]
    started = time.perf_counter()
    learned = LearnedTagger.fit(clauses, lexicon)
    print(
        f"\nlearned tagger: {len(set(clauses)):,} distinct clauses of {len(lines):,} corpus lines, "
        f"classifiers for {len(learned.aspects)} aspects, fitted in {time.perf_counter() - started:.0f} s"
    )
    ids = reviews["review_id"].to_list()
    keys = lexicon.taxonomy.keys
    settings = PolaritySettings(neutral_below=0.5, mask_aspect_words=False)
    baseline = aspects_by_review(tag_reviews(reviews, lexicon, scorer, "s", settings, lexicon), ids)
    rows = []
    for threshold in [float(value) for value in arguments.learned.split(",")]:
        candidate = learned.at_threshold(threshold)
        predicted = aspects_by_review(tag_reviews(reviews, candidate, scorer, "s", settings, lexicon), ids)
        report = aspect_report(gold, predicted, keys)
        paired = paired_macro_f1(gold, predicted, baseline, keys)
        rows.append(
            (
                threshold,
                f"{report['macro_f1']:.3f} [{report['macro_f1_ci95'][0]:.3f}, {report['macro_f1_ci95'][1]:.3f}]",
                f"{report['micro_precision']:.3f} / {report['micro_recall']:.3f}",
                f"{paired.difference:+.3f} [{paired.low:+.3f}, {paired.high:+.3f}]",
                "serves" if paired.significantly_better else "does not serve",
            )
        )
    print(table(["threshold", "macro-F1 [95%]", "micro P / R", "minus lexicon [95%]", "gate"], rows))


if __name__ == "__main__":
    main()
