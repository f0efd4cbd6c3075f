"""The aspect tagger's gate as aspect_tagger runs it, on the sample's whole review source: both
learned candidates (TF-IDF one-vs-rest, and the multi-label head on a fine-tuned sentiment
transformer) fitted on the lexicon's labels of every corpus clause (seed words masked; the
hand-labelled texts left out), thresholds and the challenger chosen on the dev half, every candidate
reported on the test half with its 95% interval and its paired difference with the lexicon.

    .venv/bin/python bench/aspect_gate.py --head-from TRANSFORMER_VERSION_DIR [--head-steps 300]
        [--device cpu|cuda] [--rounds 2000]

TRANSFORMER_VERSION_DIR: a transformer version of a sentiment registry (make run's
data/lake/models/sentiment/versions/<...-transformer-...>), the encoder the head starts from.
Prints the time of each fit and the peak resident memory of the process.
"""

import argparse
import resource
import time
from pathlib import Path

from shopinsight_pipeline.aspects.clauses import split_clauses
from shopinsight_pipeline.aspects.evaluation import aspect_report, load_labelled, paired_macro_f1
from shopinsight_pipeline.aspects.gate import choose_tagger, detected
from shopinsight_pipeline.aspects.learned import LearnedTagger, TaggerGateSettings
from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.settings import TransformerTaggerSettings
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy
from shopinsight_pipeline.aspects.transformer import TransformerTagger
from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.sample import load_review_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--head-from", type=Path, required=True)
    parser.add_argument("--head-steps", type=int, default=TransformerTaggerSettings.max_steps)
    parser.add_argument("--device", default=None)
    parser.add_argument("--rounds", type=int, default=TaggerGateSettings.rounds)
    parser.add_argument("--seed-placeholder", default="", help='"" deletes seed words (default); "mask": mask token')
    arguments = parser.parse_args()

    labelled = load_labelled()
    held_out = {row.text for row in labelled}  # both halves: never trained on, even weakly
    corpus = load_review_corpus()
    lines = [line for line in dict.fromkeys(corpus["neg"] + corpus["pos"]) if line not in held_out]
    clauses = [clause for line in lines for clause in split_clauses(line)]
    lexicon = LexiconTagger(load_taxonomy())
    print(f"{len(set(clauses)):,} distinct clauses of {len(lines):,} distinct corpus lines")

    started = time.perf_counter()
    tfidf = LearnedTagger.fit(clauses, lexicon)
    print(f"tfidf_ovr: {len(tfidf.aspects)} aspects, fitted in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    head = TransformerTagger.fit(
        clauses,
        lexicon,
        arguments.head_from,
        TransformerTaggerSettings(max_steps=arguments.head_steps, seed_placeholder=arguments.seed_placeholder),
        arguments.device,
    )
    print(f"transformer_head: {len(head.aspects)} aspects, fitted in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    settings = TaggerGateSettings(rounds=arguments.rounds)
    choice = choose_tagger([tfidf, head], labelled, settings)
    print(f"gate in {time.perf_counter() - started:.0f} s: {choice.reason}\n")
    dev = [row for row in labelled if row.split == "dev"]
    lexicon_dev = aspect_report(
        [row.aspects for row in dev], detected(lexicon, [row.text for row in dev]), lexicon.taxonomy.keys, rounds=1
    )
    print(f"dev half, lexicon alone: macro-F1 {lexicon_dev['macro_f1']:.4f}")
    print(
        table(
            ["candidate", *(str(t) for t in settings.thresholds)],
            [
                (kind, *(f"{scores[t]:.4f}" for t in settings.thresholds))
                for kind, scores in choice.dev_by_candidate.items()
            ],
        )
        + "\n"
    )
    test = [row for row in labelled if row.split == "test"]
    gold, texts = [row.aspects for row in test], [row.text for row in test]
    baseline = detected(lexicon, texts)
    rows = []
    for name, report in choice.test.items():
        low, high = report["macro_f1_ci95"]
        paired = "-"
        if name != "lexicon":
            candidate = head if name == head.kind else tfidf
            threshold = choice.dev_best[name]["threshold"]
            difference = paired_macro_f1(
                gold,
                detected(candidate.at_threshold(threshold), texts),
                baseline,
                lexicon.taxonomy.keys,
                settings.confidence,
                settings.rounds,
            )
            paired = f"{difference.difference:+.3f} [{difference.low:+.3f}, {difference.high:+.3f}] at {threshold}"
        rows.append((name, f"{report['macro_f1']:.3f} [{low:.3f}, {high:.3f}]", paired))
    print(table(["candidate", "test macro-F1 [95%]", "minus lexicon [95%], dev threshold"], rows))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nserving: {choice.serving}; peak resident memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
