"""The training loop on a tiny randomly initialised model: learning, early stopping, resume."""

import random

import pytest
import torch

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.fit import TrainingDataError, check_window
from shopinsight_pipeline.ml.inference import predict_proba
from shopinsight_pipeline.ml.text import LabelScheme
from shopinsight_pipeline.ml.train import (
    TokenizedSet,
    TrainSettings,
    latest_checkpoint,
    parameter_groups,
    train_classifier,
)

LABELS = ["negative", "neutral", "positive"]
VOCABULARY_SPAN = 500  # class c draws its tokens from [5000 + 1000 c, 5000 + 1000 c + span)

# Library defaults are the product's (a CPU step budget, a faster embedding rate): these tests train
# by epochs with one learning rate.
NO_BUDGET = {"cpu_max_steps": 0, "embedding_learning_rate": 0.0}


def synthetic(count: int, seed: int) -> TokenizedSet:
    rng = random.Random(seed)
    ids, labels = [], []
    for _ in range(count):
        label = rng.randrange(3)
        start = 5000 + 1000 * label
        body = [rng.randrange(start, start + VOCABULARY_SPAN) for _ in range(rng.randrange(3, 30))]
        ids.append([101, *body, 102])
        labels.append(label)
    return TokenizedSet(ids, labels)


def tiny(tiny_model_dir):
    torch.manual_seed(0)
    return model_io.load_model(tiny_model_dir, num_labels=3, id2label=dict(enumerate(LABELS)))


def run(model, settings, checkpoint_dir, on_step=None, on_checkpoint=None):
    return train_classifier(
        model,
        synthetic(320, 1),
        synthetic(96, 2),
        LABELS,
        0,
        settings,
        checkpoint_dir,
        log=lambda _: None,
        on_step=on_step,
        on_checkpoint=on_checkpoint,
    )


def test_weight_decay_spares_biases_and_layer_norms(tiny_model_dir):
    decayed, undecayed = parameter_groups(tiny(tiny_model_dir), 0.01)
    *_, embeddings = parameter_groups(tiny(tiny_model_dir), 0.01, embedding_learning_rate=1e-3)
    assert embeddings["lr"] == 1e-3 and embeddings["params"][0].shape[0] > 30000
    assert decayed["weight_decay"] == 0.01 and undecayed["weight_decay"] == 0.0
    assert all(parameter.dim() == 1 for parameter in undecayed["params"])
    assert all(parameter.dim() == 2 for parameter in decayed["params"])


def test_tiny_model_learns_class_specific_tokens(tiny_model_dir, tmp_path):
    model = tiny(tiny_model_dir)
    settings = TrainSettings(
        learning_rate=3e-3, batch_size=16, max_epochs=4, eval_every_steps=20, patience=10, seed=1, **NO_BUDGET
    )
    outcome = run(model, settings, tmp_path)
    assert outcome.steps == 80
    assert outcome.history[-1]["validation_loss"] < outcome.history[0]["validation_loss"]
    assert outcome.best_validation_macro_f1 > 0.8
    validation = synthetic(96, 2)
    accuracy = (predict_proba(model, validation.input_ids, 0).argmax(1) == validation.labels).mean()
    assert accuracy > 0.8  # the model returned holds the best weights


def test_early_stopping_when_validation_never_improves(tiny_model_dir, tmp_path):
    settings = TrainSettings(
        learning_rate=0.0, embedding_learning_rate=0.0, batch_size=16, max_epochs=5, eval_every_steps=5, patience=2
    )
    outcome = run(tiny(tiny_model_dir), settings, tmp_path)
    assert outcome.stopped_early
    assert outcome.steps == 15  # best at step 5, then two evaluations without gain
    assert outcome.best_step == 5


def test_interrupted_training_resumes_from_the_last_checkpoint(tiny_model_dir, tmp_path):
    settings = TrainSettings(
        learning_rate=3e-3, batch_size=16, max_epochs=2, eval_every_steps=10, checkpoint_every_steps=6, **NO_BUDGET
    )

    def kill_at_step_9(step: int) -> None:
        if step == 9:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        run(tiny(tiny_model_dir), settings, tmp_path / "job", on_step=kill_at_step_9)
    assert latest_checkpoint(tmp_path / "job").name == "step_0000006"

    steps_taken: list[int] = []
    resumed = run(tiny(tiny_model_dir), settings, tmp_path / "job", on_step=steps_taken.append)
    assert resumed.resumed_from_step == 6
    assert steps_taken == list(range(7, 41))  # continues at step 7, not from scratch
    assert resumed.steps == 40
    assert [record["step"] for record in resumed.history] == [10, 20, 30, 40]  # history survives the restart


def test_window_with_one_class_or_too_few_examples_fails_clearly():
    import polars as pl

    one_class = {name: pl.DataFrame({"label": [1] * 300}) for name in ("train", "validation", "test")}
    with pytest.raises(TrainingDataError, match="single class"):
        check_window(one_class, LabelScheme(), 100)
    few = {name: pl.DataFrame({"label": [0, 2] * 10}) for name in ("train", "validation", "test")}
    with pytest.raises(TrainingDataError, match="fewer than min_train_examples=100"):
        check_window(few, LabelScheme(), 100)


def test_balanced_class_weights_by_hand():
    from shopinsight_pipeline.ml.train import class_weights

    # 6 examples, classes 0:4, 1:0, 2:2 -> n / (k * count) with k = 2 present classes
    assert class_weights([0, 0, 0, 0, 2, 2], 3).tolist() == pytest.approx([6 / 8, 0.0, 6 / 4])
