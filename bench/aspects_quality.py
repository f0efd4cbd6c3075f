"""Aspect tagging quality on the hand-labelled reviews (issue 24): detection per aspect, macro-F1
with its 95% interval, polarity accuracy and negative recall on the aspects found correctly.

    .venv/bin/python bench/aspects_quality.py --scorer MODEL_VERSION_DIR [--split dev|test]
        [--neutral-below 0.5,0.6,...] [--mask both|on|off]

MODEL_VERSION_DIR is a sentiment registry version (e.g. the champion `make run` promoted:
data/lake/models/sentiment/champion.json's "path"); its scorer judges each clause's polarity, as
review_aspects does. Tune on the dev half; the test half is for reporting the chosen settings once.
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


if __name__ == "__main__":
    main()
