"""Text normalisation, leak-free splits and rating labels.

The review source repeats texts, so a split by review id would put one text in train and test.
Every split here is by a hash of the normalised text: identical texts always land on one side.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

import polars as pl

_WHITESPACE = re.compile(r"\s+")

SPLITS: tuple[str, ...] = ("train", "validation", "test")


def normalize_text(text: str) -> str:
    """NFKC, whitespace collapsed and trimmed, case-folded: the identity of a review text."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def text_key(text: str) -> str:
    """Stable 16-hex-digit key of a normalised text (used to deduplicate and to split)."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()[:16]


def text_keys(texts: pl.Series) -> pl.Series:
    return pl.Series("text_key", [text_key(text) for text in texts.to_list()], dtype=pl.String)


@dataclass(frozen=True)
class SplitFractions:
    """Shares of hash buckets per split; the test share is what is left. A fifth for test: on the
    sample that is 2,873 distinct labelled texts, on which the gate's paired comparison sees
    macro-F1 differences of 0.007-0.018 with 80% power (the more two scorers disagree, the larger)."""

    train: float = 0.7
    validation: float = 0.1

    def __post_init__(self) -> None:
        if not (0 < self.train < 1 and 0 < self.validation < 1 and self.train + self.validation < 1):
            raise ValueError(f"split fractions must be in (0, 1) and leave room for test: {self}")


def split_of(key: str, fractions: SplitFractions = SplitFractions()) -> str:
    """train / validation / test from the text key alone, so every run and every model agrees."""
    bucket = int(key[:8], 16) / 0x1_0000_0000
    if bucket < fractions.train:
        return "train"
    if bucket < fractions.train + fractions.validation:
        return "validation"
    return "test"


RATING_SCALE: tuple[int, ...] = (1, 2, 3, 4, 5)  # validation quarantines every other rating


@dataclass(frozen=True)
class LabelScheme:
    """Sentiment classes and how star ratings map onto them (the `sentiment_labels` resource sets both).

    The default is polarity: 1-2 stars negative, 4-5 positive. A rating of the scale that the map
    leaves out (3 stars here) is unlabelled: such reviews are scored but never used to train or to
    evaluate, because their text says nothing reliable about a class of their own. `three_class()`
    is the scheme for shops whose 3-star reviews carry neutral text.
    """

    labels: tuple[str, ...] = ("negative", "positive")
    rating_to_label: dict[int, str] = field(
        default_factory=lambda: {1: "negative", 2: "negative", 4: "positive", 5: "positive"}
    )

    def __post_init__(self) -> None:
        unknown = sorted(set(self.rating_to_label.values()) - set(self.labels))
        if unknown:
            raise ValueError(f"rating map names labels {unknown} that are not in {list(self.labels)}")
        outside = sorted(set(self.rating_to_label) - set(RATING_SCALE))
        if outside:
            raise ValueError(f"rating map names ratings {outside} outside the scale {list(RATING_SCALE)}")

    @classmethod
    def three_class(cls) -> "LabelScheme":
        return cls(
            ("negative", "neutral", "positive"),
            {1: "negative", 2: "negative", 3: "neutral", 4: "positive", 5: "positive"},
        )

    @property
    def unlabelled_ratings(self) -> tuple[int, ...]:
        """Ratings of the scale that name no class: scored, never trained or evaluated on."""
        return tuple(rating for rating in RATING_SCALE if rating not in self.rating_to_label)

    def label_ids(self, ratings: pl.Series) -> pl.Series:
        """Class index per rating, null for an unlabelled rating; a rating off the scale is an error,
        not a silent default."""
        index = {rating: self.labels.index(label) for rating, label in self.rating_to_label.items()}
        off_scale = sorted(set(ratings.drop_nulls().cast(pl.Int64).to_list()) - set(RATING_SCALE))
        if off_scale:
            raise ValueError(f"ratings {off_scale} have no label: the scale is {list(RATING_SCALE)}")
        return ratings.cast(pl.Int64).replace_strict(index, default=None, return_dtype=pl.Int8).alias("label")


@dataclass(frozen=True)
class DedupReport:
    examples: int  # labelled rows of the window
    distinct_texts: int
    duplicate_rows: int
    conflicting_texts: int
    unlabelled_rows: int = 0  # rows whose rating names no class: kept out of training and evaluation


def assign_splits(
    examples: pl.DataFrame, fractions: SplitFractions = SplitFractions()
) -> tuple[dict[str, pl.DataFrame], DedupReport]:
    """Deduplicate by text key and split by its hash.

    `examples` needs `text_key` and `label`. Rows without a label (a rating the scheme leaves
    out) are dropped first and counted. Training keeps one row per distinct (text, label);
    evaluation splits keep one row per text and drop texts seen with more than one label (their
    gold label is unknowable), which the report counts.
    """
    unlabelled = examples.filter(pl.col("label").is_null()).height
    examples = examples.filter(pl.col("label").is_not_null())
    label_counts = examples.group_by("text_key").agg(pl.col("label").n_unique().alias("labels"))
    conflicting = label_counts.filter(pl.col("labels") > 1).get_column("text_key")
    with_split = examples.with_columns(
        pl.col("text_key").map_elements(lambda key: split_of(key, fractions), return_dtype=pl.String).alias("split")
    )
    splits = {
        "train": with_split.filter(pl.col("split") == "train").unique(
            ["text_key", "label"], keep="first", maintain_order=True
        ),
    }
    for name in ("validation", "test"):
        splits[name] = with_split.filter(
            (pl.col("split") == name) & ~pl.col("text_key").is_in(conflicting.implode())
        ).unique("text_key", keep="first", maintain_order=True)
    report = DedupReport(
        examples=examples.height,
        distinct_texts=label_counts.height,
        duplicate_rows=examples.height - label_counts.height,
        conflicting_texts=conflicting.len(),
        unlabelled_rows=unlabelled,
    )
    return {name: frame.drop("split") for name, frame in splits.items()}, report
