"""The aspect tagger's gate: a learned tagger tied with the lexicon does not serve, one clearly better
does (hand-made labelled halves), and the asset on the ML lake writes its choice, model and card."""

import json
import random
from pathlib import Path

import pytest

from shopinsight_pipeline.aspects.evaluation import LabelledReview
from shopinsight_pipeline.aspects.gate import choose_tagger
from shopinsight_pipeline.aspects.learned import LearnedTagger, LearnedTaggerSettings, TaggerGateSettings
from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy
from shopinsight_pipeline_tests.conftest import materialize_assets
from shopinsight_pipeline_tests.ml_lake import metadata

DELIVERY = ["太慢了", "等了一周", "三天才到", "慢死了", "等了好久才到", "一周才到手"]
OTHER = ["很喜欢", "孩子很喜欢", "还不错", "非常满意", "下次还来", "推荐购买"]


@pytest.fixture(scope="module")
def learned() -> LearnedTagger:
    rng = random.Random(2)
    clauses = [f"{rng.choice(['物流', '快递'])}{rng.choice(DELIVERY)}{n}" for n in range(150)]
    clauses += [f"{rng.choice(OTHER)}{n}" for n in range(300)]
    return LearnedTagger.fit(clauses, LexiconTagger(load_taxonomy()), LearnedTaggerSettings())


def halves() -> list[LabelledReview]:
    """Delivery complaints without a seed word (the lexicon misses them) and reviews of no aspect."""
    rows = []
    for n in range(80):
        text, aspects = (f"等了一周才到手{n}", {"logistics": "negative"}) if n % 2 else (f"非常满意{n}", {})
        rows.append(LabelledReview(f"A{n}", text, aspects, "dev" if n < 40 else "test"))
    return rows


def test_a_learned_tagger_clearly_better_on_the_test_half_serves(learned):
    choice = choose_tagger(learned, halves(), TaggerGateSettings(rounds=300))
    assert choice.serving == "tfidf_ovr"
    assert choice.paired["low"] > 0 and "better beyond the noise: it serves" in choice.reason
    assert choice.test["tfidf_ovr"]["macro_f1"] > choice.test["lexicon"]["macro_f1"]
    assert set(choice.dev_macro_f1) == set(TaggerGateSettings().thresholds)


def test_a_learned_tagger_tied_with_the_lexicon_does_not_serve(learned):
    adds_nothing = TaggerGateSettings(thresholds=(1.0,), rounds=300)  # no probability reaches 1: the lexicon's tags
    choice = choose_tagger(learned, halves(), adds_nothing)
    assert choice.serving == "lexicon"
    assert choice.paired["difference"] == 0 and "the lexicon serves" in choice.reason


def test_the_asset_writes_its_choice_the_model_and_its_card_and_review_aspects_follows_it(ml_lake):
    run = materialize_assets(ml_lake.root, ml_lake.instance, ["aspect_tagger"])
    assert run.success
    info = metadata(run, "aspect_tagger")
    pointer = json.loads((ml_lake.root / "lake/models/aspect_tagger.json").read_text())
    assert pointer["serving"] in {"lexicon", "tfidf_ovr", "transformer_head"} and info["serving"] == pointer["serving"]
    # both learned candidates trained (the head on the lake's fine-tuned transformer); the dev half chose one
    assert info["candidates_left_out"] == "no"
    assert "| tfidf_ovr" in info["dev_half_candidates"] and "| transformer_head" in info["dev_half_candidates"]
    folder = Path(pointer["path"])
    assert folder.parent == ml_lake.root / "lake/models/aspects" and folder.name in {"tfidf_ovr", "transformer_head"}
    model_files = {
        "tfidf_ovr": {"aspect_tagger.json", "aspect_tagger.npz"},
        "transformer_head": {"aspect_head.json", "model.safetensors", "config.json"},
    }[folder.name]
    assert model_files | {"MODEL_CARD.md"} <= {p.name for p in folder.iterdir()}
    assert pointer["serving"] in (folder / "MODEL_CARD.md").read_text()
    assert all(f"| {name}" in info["test_half"] for name in ("lexicon", "tfidf_ovr", "transformer_head"))
    assert "| logistics" in info["test_half_per_aspect"] and "lexicon P / R / F1" in info["test_half_per_aspect"]
    assert "Per aspect" in (folder / "MODEL_CARD.md").read_text()
    day = ml_lake.days[-1].isoformat()
    tagged = materialize_assets(ml_lake.root, ml_lake.instance, ["review_aspects"], partition_key=day)
    assert tagged.success
    assert metadata(tagged, "review_aspects")["tagger"].startswith(pointer["serving"])
