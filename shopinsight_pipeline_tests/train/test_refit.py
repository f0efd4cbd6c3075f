"""The champion refit on every label of the window (issue 29): it serves, it saw every labelled
distinct text the split version did not, the next gate still compares with the split version,
and a refit that fails leaves the split version serving."""

import pytest

from shopinsight_pipeline.ml import refit as refit_module
from shopinsight_pipeline.ml.fit import InProcessTrainer
from shopinsight_pipeline.ml.refit import refit_champion
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.ml.scorers import load_scorer, read_candidate
from shopinsight_pipeline.ml.settings import SentimentTrainingSettings
from shopinsight_pipeline.ml.text import LabelScheme
from shopinsight_pipeline.ml.training_run import train_and_gate
from shopinsight_pipeline_tests.train.test_train_and_gate import DISTINCT, SETTINGS, examples, tokenizer  # noqa: F401


@pytest.fixture(scope="module")
def first_run(examples, tokenizer, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("refit")
    registry = ModelRegistry(root / "registry")
    outcome = train_and_gate(
        examples, tokenizer, LabelScheme(), SETTINGS, registry, root / "checkpoints", InProcessTrainer(), log=print
    )
    return registry, root, outcome


def test_the_refit_serves_and_learned_from_every_labelled_distinct_text(first_run):
    registry, _, outcome = first_run
    pointer = registry.require_champion()
    evaluated = read_candidate(registry.version_path(pointer["version"]))
    assert outcome.refit is not None and outcome.refit.failed is None
    assert pointer["refit_version"] == pointer["served_version"] == outcome.refit.version != pointer["version"]
    assert pointer["path"] == str(registry.version_path(outcome.refit.version))
    refit = read_candidate(registry.version_path(outcome.refit.version))
    assert refit["refit_of"] == pointer["version"] and refit["kind"] == evaluated["kind"]
    # the split version learned from its training split; the refit from all three splits' texts
    assert refit["refit_examples"]["texts"] == DISTINCT == sum(evaluated["split_sizes"].values())
    assert evaluated["split_sizes"]["train"] < DISTINCT
    assert refit["metrics"] == evaluated["metrics"]  # the split version's numbers, said so on its card
    card = (registry.version_path(outcome.refit.version) / "MODEL_CARD.md").read_text()
    assert f"refit of **{pointer['version']}**" in card and "no held-out numbers of its own" in card
    for part in refit.get("parts", []):  # an ensemble's parts are refit too, with the same weights
        assert read_candidate(registry.version_path(part["version"]))["refit_of"] in {
            p["version"] for p in evaluated["parts"]
        }
    probabilities = load_scorer(registry.version_path(outcome.refit.version)).predict_proba(["great lovely item"])
    assert probabilities.shape == (1, 2)


def test_the_next_gate_compares_its_challenger_with_the_split_version_not_the_refit(first_run, examples, tokenizer):  # noqa: F811
    registry, root, first = first_run
    settings = SentimentTrainingSettings(**{**SETTINGS.__dict__, "retrain_unchanged": True})
    second = train_and_gate(
        examples, tokenizer, LabelScheme(), settings, registry, root / "checkpoints", InProcessTrainer()
    )
    assert second.previous["version"] == first.serving["version"] != first.serving["served_version"]
    assert second.decision.evidence["champion"] == first.serving["version"]


def test_a_refit_of_the_same_version_on_the_same_window_is_reused(first_run, examples, tokenizer):  # noqa: F811
    registry, root, _ = first_run
    versions = sorted(path.name for path in registry.versions_path.iterdir())
    again = refit_champion(
        registry, examples, tokenizer, LabelScheme(), SETTINGS.split, InProcessTrainer(), root / "checkpoints"
    )
    assert again.reused and again.version == registry.require_champion()["refit_version"]
    assert sorted(path.name for path in registry.versions_path.iterdir()) == versions


def test_a_transformer_is_refit_for_the_steps_its_split_run_was_selected_at(first_run, examples, tokenizer):  # noqa: F811
    registry, root, outcome = first_run
    transformer = outcome.result.transformer
    registry.promote(transformer.version, transformer.kind, None, "test: the transformer serves")
    refit = refit_champion(
        registry, examples, tokenizer, LabelScheme(), SETTINGS.split, InProcessTrainer(), root / "checkpoints"
    )
    assert refit.failed is None
    trained = read_candidate(registry.version_path(refit.version))["training"]
    best_step = read_candidate(transformer.path)["training"]["best_step"]
    assert trained["max_steps"] == trained["steps"] == best_step
    assert (registry.version_path(refit.version) / "model.safetensors").is_file()


def test_a_refit_that_fails_leaves_the_split_version_serving_and_says_so(first_run, examples, tokenizer, monkeypatch):  # noqa: F811
    registry, root, _ = first_run

    def out_of_memory(*arguments, **keywords):
        raise MemoryError("CPU allocator: out of memory")

    monkeypatch.setattr(refit_module, "_refit", out_of_memory)
    failed = refit_champion(
        registry, examples, tokenizer, LabelScheme(), SETTINGS.split, InProcessTrainer(), root / "checkpoints"
    )
    pointer = registry.require_champion()
    assert failed.version is None and "MemoryError: CPU allocator: out of memory" in failed.failed
    assert "refit_version" not in pointer and pointer["served_version"] == pointer["version"]
    assert pointer["path"] == str(registry.version_path(pointer["version"]))
