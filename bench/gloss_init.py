"""Added hanzi started from CC-CEDICT glosses vs drawn at random, over several seeds.

    .venv/bin/python bench/gloss_init.py [--train 2048] [--validation 1024] [--outside 2000] [--seeds 1 2 3]

For each seed, two base folders differ only in `embedding_init` (gloss / normal; the same seed
draws the rows of characters without glosses identically), and the same classifier head seed,
texts, batches and settings (the asset's defaults: AdamW, learning rate 1e-4, embedding learning
rate 2e-3, 2 epochs, class-balanced loss) fine-tune each. Both are scored on held-out distinct
corpus texts and on outside takeaway-food reviews (../shared/eval, never trained on). The paired
differences per seed are what matter: one seed alone is within the run-to-run noise.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl
import torch
from _ml import review_texts

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.inference import predict_proba
from shopinsight_pipeline.ml.scorers import TextTokenizer
from shopinsight_pipeline.ml.significance import bootstrap_macro_f1
from shopinsight_pipeline.ml.train import TokenizedSet, TrainSettings, train_classifier

LABELS = ["negative", "positive"]
OUTSIDE = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "waimai_10k.csv"


def outside_set(count: int) -> tuple[list[str], list[int]]:
    frame = pl.read_csv(OUTSIDE, infer_schema=False).sample(n=count, seed=0, shuffle=True)
    return frame.get_column("review").to_list(), [int(label) for label in frame.get_column("label")]


def run(init: str, seed: int, texts: dict, settings: TrainSettings, work: Path) -> dict:
    manifest = model_io.build_review_base(
        model_io.default_model_dir(), work / init, 128, model_io.gb2312_hanzi(), seed=seed, embedding_init=init
    )
    directory = Path(manifest["directory"])
    tokenizer = model_io.load_tokenizer(directory)
    encode = TextTokenizer(tokenizer, 128)
    sets = {name: TokenizedSet(encode(rows[0])[0], rows[1]) for name, rows in texts.items()}
    torch.manual_seed(seed)
    model = model_io.load_model(directory, num_labels=2, id2label=dict(enumerate(LABELS)))
    started = time.perf_counter()
    train_classifier(
        model,
        sets["train"],
        sets["validation"],
        LABELS,
        tokenizer.pad_token_id,
        settings,
        work / f"ckpt-{init}",
        lambda _: None,
    )
    seconds = time.perf_counter() - started
    scores = {}
    for name in ("validation", "outside"):
        predicted = predict_proba(model, sets[name].input_ids, tokenizer.pad_token_id, 64).argmax(axis=1)
        scores[name] = bootstrap_macro_f1(sets[name].labels, predicted, rounds=1000)
    return {"seconds": seconds, **scores, "gloss_rows": manifest.get("gloss_initialised", 0)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=2048)
    parser.add_argument("--validation", type=int, default=1024)
    parser.add_argument("--outside", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()

    corpus_texts, corpus_labels = review_texts(args.train + args.validation, seed=0)
    polarity = [1 if label else 0 for label in corpus_labels]  # review_texts labels 0 / 2
    texts = {
        "train": (corpus_texts[: args.train], polarity[: args.train]),
        "validation": (corpus_texts[args.train :], polarity[args.train :]),
        "outside": outside_set(args.outside),
    }
    steps_per_epoch = -(-args.train // 32)
    print(f"{args.train} training texts, {args.validation} held-out corpus texts, {args.outside} outside reviews")
    print("| seed | init | held-out macro-F1 (95% CI) | outside macro-F1 (95% CI) | train s |")
    print("|---|---|---|---|---|")
    differences: dict[str, list[float]] = {"validation": [], "outside": []}
    for seed in args.seeds:
        settings = TrainSettings(
            learning_rate=1e-4,
            embedding_learning_rate=2e-3,
            max_epochs=args.epochs,
            eval_every_steps=steps_per_epoch,
            checkpoint_every_steps=10**9,
            cpu_max_steps=0,
            patience=10,
            seed=seed,
        )
        results = {}
        for init in ("normal", "gloss"):
            with tempfile.TemporaryDirectory(prefix="shopinsight-gloss-") as work:
                results[init] = result = run(init, seed, texts, settings, Path(work))
            cells = [
                f"{result[name].point:.4f} ({result[name].low:.4f}-{result[name].high:.4f})"
                for name in ("validation", "outside")
            ]
            print(f"| {seed} | {init} | {cells[0]} | {cells[1]} | {result['seconds']:.0f} |", flush=True)
        for name in differences:
            differences[name].append(results["gloss"][name].point - results["normal"][name].point)
    for name, values in differences.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(
            f"\ngloss - normal on {name}: mean {statistics.mean(values):+.4f}, sd {spread:.4f}, "
            f"per seed {[round(value, 4) for value in values]}"
        )


if __name__ == "__main__":
    main()
