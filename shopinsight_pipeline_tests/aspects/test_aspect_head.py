"""The transformer aspect head (candidate c): trained on masked lexicon labels it finds an aspect
in clauses without a seed word, round-trips through safetensors, starts from the fine-tuned
sentiment transformer, and competes with the TF-IDF tagger on the dev half before the test half."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from shopinsight_pipeline.aspects.gate import choose_tagger
from shopinsight_pipeline.aspects.learned import LearnedTagger, LearnedTaggerSettings, TaggerGateSettings
from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.settings import TransformerTaggerSettings
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy
from shopinsight_pipeline.aspects.transformer import TransformerTagger, fine_tuned_transformer, training_set
from shopinsight_pipeline_tests.aspects.test_aspect_tagger import DELIVERY, OTHER, halves

FAST = TransformerTaggerSettings(max_steps=100, learning_rate=1e-3, head_learning_rate=1e-2)


def delivery_clauses() -> list[str]:
    rng = random.Random(2)
    clauses = [f"{rng.choice(['物流', '快递'])}{rng.choice(DELIVERY)}{n}" for n in range(150)]
    return clauses + [f"{rng.choice(OTHER)}{n}" for n in range(300)]


@pytest.fixture(scope="module")
def head(tiny_model_dir) -> TransformerTagger:
    return TransformerTagger.fit(delivery_clauses(), LexiconTagger(load_taxonomy()), tiny_model_dir, FAST, "cpu")


def test_the_training_set_masks_the_seeds_keeps_every_labelled_clause_and_samples_the_rest():
    lexicon = LexiconTagger(load_taxonomy())
    clauses = delivery_clauses() + delivery_clauses()[:10]  # repeats count once
    settings = TransformerTaggerSettings(negatives_per_positive=0.5)
    texts, targets, aspects = training_set(clauses, lexicon, "[MASK]", settings)
    assert aspects == ["logistics"]  # the only aspect with min_positive_clauses labelled clauses
    assert int(targets.sum()) == 150 and len(texts) == 150 + 75
    labelled = [text for text, target in zip(texts, targets, strict=True) if target[0]]
    assert all(text.startswith("[MASK]") and "物流" not in text and "快递" not in text for text in labelled)


def test_the_head_finds_the_aspect_where_no_seed_word_names_it(head):
    assert head.aspects == ["logistics"]
    unseeded = head.probabilities([f"等了一周才到手{n}" for n in range(40)])[:, 0]
    unrelated = head.probabilities([f"非常满意{n}" for n in range(40)])[:, 0]
    assert unseeded.min() > 0.5 > unrelated.max()
    assert head.tag(["等了一周才到手", "非常满意", "物流很快"]) == [["logistics"], [], ["logistics"]]
    assert head.at_threshold(1.01).tag(["等了一周才到手", "物流很快"]) == [[], ["logistics"]]  # the lexicon's stay


def test_a_saved_head_scores_exactly_as_the_trained_one_from_safetensors_only(head, tmp_path):
    head.save(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert not [p for p in tmp_path.iterdir() if p.suffix in {".bin", ".pt", ".pkl", ".pickle"}]
    loaded = TransformerTagger.load(tmp_path, load_taxonomy(), "cpu")
    clauses = ["等了一周才到手", "非常满意", "包装很好"]
    assert np.allclose(loaded.probabilities(clauses), head.probabilities(clauses), atol=1e-6)
    assert loaded.settings == head.settings and loaded.aspects == head.aspects


def test_a_head_of_another_taxonomy_version_is_refused(head, tmp_path):
    head.save(tmp_path)
    payload = json.loads((tmp_path / "aspect_head.json").read_text())
    (tmp_path / "aspect_head.json").write_text(json.dumps({**payload, "taxonomy_version": 0}))
    with pytest.raises(ValueError, match="train the aspect tagger again"):
        TransformerTagger.load(tmp_path, load_taxonomy(), "cpu")


def version(registry: Path, name: str, kind: str, **extra) -> Path:
    folder = registry / "versions" / name
    folder.mkdir(parents=True)
    (folder / "candidate.json").write_text(json.dumps({"kind": kind, **extra}))
    return folder


def test_the_head_starts_from_the_serving_transformer_or_the_ensembles_or_the_newest_one(tmp_path):
    registry = tmp_path / "sentiment"
    assert fine_tuned_transformer(registry) is None  # nothing trained yet
    version(registry, "20260901T000000-tfidf_logreg-a", "tfidf_logreg")
    assert fine_tuned_transformer(registry) is None  # no transformer at all
    older = version(registry, "20260901T000000-transformer-a", "transformer")
    newer = version(registry, "20260902T000000-transformer-b", "transformer")
    assert fine_tuned_transformer(registry) == newer  # none serves: the newest
    ensemble = {"parts": [{"version": "20260901T000000-tfidf_logreg-a"}, {"version": older.name}]}
    version(registry, "20260902T000000-ensemble-c", "ensemble", **ensemble)
    (registry / "champion.json").write_text(json.dumps({"version": "20260902T000000-ensemble-c"}))
    assert fine_tuned_transformer(registry) == older  # the serving ensemble's transformer part
    (registry / "champion.json").write_text(json.dumps({"version": older.name}))
    assert fine_tuned_transformer(registry) == older


def test_the_gate_judges_only_the_candidate_best_on_the_dev_half(head):
    lexicon = LexiconTagger(load_taxonomy())
    blind = LearnedTagger.fit(delivery_clauses(), lexicon, LearnedTaggerSettings(min_positive_clauses=10_000))
    assert blind.aspects == []  # learned nothing: the lexicon's tags only
    choice = choose_tagger([blind, head], halves(), TaggerGateSettings(rounds=300))
    assert choice.challenger == "transformer_head" and choice.serving == "transformer_head"
    assert set(choice.test) == {"lexicon", "tfidf_ovr", "transformer_head"}  # every candidate reported
    assert choice.dev_best["transformer_head"]["macro_f1"] > choice.dev_best["tfidf_ovr"]["macro_f1"]
    assert "best of tfidf_ovr, transformer_head on the dev half" in choice.reason
    tied = choose_tagger([blind, head.at_threshold(1.01)], halves(), TaggerGateSettings(thresholds=(1.01,), rounds=300))
    assert tied.challenger == "tfidf_ovr" and tied.serving == "lexicon"  # a tie goes to the simpler candidate
