"""The learned aspect tagger: trained on lexicon-labelled clauses with the seed words masked, it
finds an aspect from the words around the seeds, adds to the lexicon, and round-trips without pickle."""

import random
from dataclasses import replace

import numpy as np
import pytest

from shopinsight_pipeline.aspects.learned import MASK, LearnedTagger, LearnedTaggerSettings
from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy

DELIVERY_CONTEXT = ["太慢了", "等了一周", "三天才到", "慢死了", "隔天就到", "等了好久才到", "一周才到手"]
OTHER = ["很喜欢", "孩子很喜欢", "还不错", "非常满意", "下次还来", "推荐购买", "挺好的", "一般般吧"]


def clauses() -> list[str]:
    """Logistics clauses always name 物流 or 快递 beside delivery words; the rest name no aspect."""
    rng = random.Random(1)
    seeded = [f"{rng.choice(['物流', '快递'])}{rng.choice(DELIVERY_CONTEXT)}{n}" for n in range(120)]
    plain = [f"{rng.choice(OTHER)}{n}" for n in range(240)]
    return seeded + plain


@pytest.fixture(scope="module")
def lexicon() -> LexiconTagger:
    return LexiconTagger(load_taxonomy())


@pytest.fixture(scope="module")
def tagger(lexicon) -> LearnedTagger:
    return LearnedTagger.fit(clauses(), lexicon, LearnedTaggerSettings(min_positive_clauses=20))


def test_training_text_hides_the_seed_words(lexicon):
    assert lexicon.mask_with("物流太慢了，快递员态度差", MASK) == f"{MASK}太慢了，{MASK}{MASK}差"  # 快递员, 态度


def test_it_finds_the_aspect_from_the_words_around_the_seeds(tagger, lexicon):
    unseen = ["等了一周才到", "三天才到手"]  # no seed word: the lexicon finds nothing
    assert lexicon.tag(unseen) == [[], []]
    assert tagger.tag(unseen) == [["logistics"], ["logistics"]]
    assert tagger.tag(["非常满意"]) == [[]]
    assert tagger.aspects == ["logistics"]  # only aspects with enough weakly labelled clauses get a classifier


def test_the_lexicon_s_findings_stay(tagger):
    assert tagger.tag(["价格便宜"]) == [["price"]]  # no price classifier, the lexicon still finds it


def test_the_threshold_decides_what_it_adds(tagger, lexicon):
    strict = tagger.at_threshold(1.0)
    assert strict.tag(["等了一周才到"]) == [[]]


def test_saved_and_loaded_it_tags_the_same_and_refuses_another_taxonomy(tagger, tmp_path):
    tagger.save(tmp_path / "tagger")
    loaded = LearnedTagger.load(tmp_path / "tagger", load_taxonomy())
    texts = ["等了一周才到", "三天才到手", "很喜欢", "物流很快"]
    assert loaded.tag(texts) == tagger.tag(texts)
    assert np.allclose(loaded.probabilities(texts), tagger.probabilities(texts))
    newer = replace(load_taxonomy(), version=99)
    with pytest.raises(ValueError, match="trained with taxonomy v3, the taxonomy is now v99"):
        LearnedTagger.load(tmp_path / "tagger", newer)
