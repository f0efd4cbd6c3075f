"""Reviews/s of review_scores' inference against the seed documents' fixed-padding recipe.

    .venv/bin/python bench/score.py [--reviews 2000] [--repeat 2]

Ours: tokenize, sort by length, batches of 64 padded to their own longest text, inference_mode
(what `TransformerScorer.predict_proba` does). Baseline, same model and texts, same run: pad every
text to 128 tokens, batches of 16 in input order. Target: at least 2x.
"""

import argparse

import numpy as np
import torch
from _ml import best_of, extended_model_dir, review_texts

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.inference import predict_proba
from shopinsight_pipeline.ml.scorers import TextTokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reviews", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())

    texts, _ = review_texts(args.reviews)
    directory = extended_model_dir()
    tokenizer = model_io.load_tokenizer(directory)
    model = model_io.load_model(directory, num_labels=3).eval()
    encode = TextTokenizer(tokenizer, 128)
    results = {}

    def ours() -> None:
        sequences, _ = encode(texts)
        results["ours"] = predict_proba(model, sequences, tokenizer.pad_token_id, args.batch_size)

    def fixed_padding() -> None:
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(texts), 16):
                batch = tokenizer(
                    texts[start : start + 16],
                    padding="max_length",
                    truncation=True,
                    max_length=128,
                    return_tensors="pt",
                )
                outputs.append(torch.softmax(model(**batch).logits, dim=-1).numpy())
        results["fixed"] = np.concatenate(outputs)

    fixed_seconds = best_of(args.repeat, fixed_padding)
    ours_seconds = best_of(args.repeat, ours)
    agreement = (results["ours"].argmax(1) == results["fixed"].argmax(1)).mean()
    print(f"{len(texts):,} review texts, CPU threads {torch.get_num_threads()}; median of {args.repeat}")
    print(f"fixed padding to 128, batch 16:        {fixed_seconds:.2f}s  {len(texts) / fixed_seconds:,.1f} reviews/s")
    print(
        f"length-sorted dynamic padding, b{args.batch_size}:   {ours_seconds:.2f}s  "
        f"{len(texts) / ours_seconds:,.1f} reviews/s"
    )
    print(f"speed-up: {fixed_seconds / ours_seconds:.2f}x  (target >= 2x); same predicted class on {agreement:.1%}")


if __name__ == "__main__":
    main()
