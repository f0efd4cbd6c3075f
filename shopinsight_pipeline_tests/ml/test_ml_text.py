"""Text keys, the leak-free split and the label map."""

import polars as pl
import pytest

from shopinsight_pipeline.ml.text import LabelScheme, SplitFractions, assign_splits, normalize_text, split_of, text_key


def test_normalisation_ignores_width_case_and_whitespace():
    assert normalize_text("  ＧＯＯＤ\u3000 quality\n\tOK ") == "good quality ok"
    assert text_key("好评！ Great") == text_key("好评!  great")
    assert text_key("好评") != text_key("差评")


def test_split_is_a_function_of_the_text_key_alone():
    keys = [text_key(f"review {n}") for n in range(4000)]
    splits = [split_of(key) for key in keys]
    shares = {name: splits.count(name) / len(splits) for name in ("train", "validation", "test")}
    assert shares["train"] == pytest.approx(0.7, abs=0.03)
    assert shares["validation"] == pytest.approx(0.1, abs=0.02)
    assert [split_of(key) for key in keys] == splits


def test_duplicated_texts_never_straddle_train_and_test():
    texts = [f"商品{n % 300}很好" + (" " if n % 2 else "") for n in range(1200)]  # every text 4 times, spacing varies
    frame = pl.DataFrame(
        {"review_id": [f"R{n}" for n in range(1200)], "text_key": [text_key(t) for t in texts], "label": [2] * 1200}
    )
    splits, report = assign_splits(frame, SplitFractions())
    train_keys = set(splits["train"].get_column("text_key"))
    test_keys = set(splits["test"].get_column("text_key"))
    validation_keys = set(splits["validation"].get_column("text_key"))
    assert not train_keys & test_keys
    assert not train_keys & validation_keys
    assert report.distinct_texts == 300
    assert report.duplicate_rows == 900
    assert sum(frame.height for frame in splits.values()) == 300  # one row per text


def test_conflicting_labels_are_counted_and_kept_out_of_evaluation():
    keys = [text_key(f"text {n}") for n in range(400)]
    rows = [(key, 0) for key in keys] + [(key, 2) for key in keys[:40]]  # 40 texts seen with two labels
    frame = pl.DataFrame({"text_key": [k for k, _ in rows], "label": [label for _, label in rows]})
    splits, report = assign_splits(frame)
    assert report.conflicting_texts == 40
    conflicting = set(keys[:40])
    for name in ("validation", "test"):
        assert not conflicting & set(splits[name].get_column("text_key"))
    in_train = [key for key in keys[:40] if split_of(key) == "train"]
    assert splits["train"].filter(pl.col("text_key").is_in(in_train)).height == 2 * len(in_train)


def test_rating_map_and_its_errors():
    polarity = LabelScheme()
    assert polarity.labels == ("negative", "positive")
    assert polarity.label_ids(pl.Series([1, 2, 3, 4, 5])).to_list() == [0, 0, None, 1, 1]
    assert polarity.unlabelled_ratings == (3,)
    three = LabelScheme.three_class()
    assert three.label_ids(pl.Series([1, 2, 3, 4, 5])).to_list() == [0, 0, 1, 2, 2]
    assert three.unlabelled_ratings == ()
    with pytest.raises(ValueError, match=r"ratings \[7\] have no label"):
        polarity.label_ids(pl.Series([5, 7]))
    with pytest.raises(ValueError, match="not in"):
        LabelScheme(("negative", "positive"), {1: "negative", 3: "neutral"})
    with pytest.raises(ValueError, match="outside the scale"):
        LabelScheme(("negative", "positive"), {0: "negative", 5: "positive"})


def test_unlabelled_rows_never_reach_any_split():
    keys = [f"{index:016x}" for index in range(0, 2**32, 2**32 // 600)]
    ratings = pl.Series([3 if index % 3 == 0 else 1 + 4 * (index % 2) for index in range(len(keys))])
    examples = pl.DataFrame({"text_key": keys, "rating": ratings}).with_columns(LabelScheme().label_ids(ratings))
    splits, report = assign_splits(examples)
    three_star = set(examples.filter(pl.col("rating") == 3).get_column("text_key"))
    assert report.unlabelled_rows == len(three_star) > 0
    assert report.examples == len(keys) - len(three_star)
    for frame in splits.values():
        assert not three_star & set(frame.get_column("text_key"))
        assert frame.get_column("label").null_count() == 0
    with pytest.raises(ValueError, match="fractions"):
        SplitFractions(0.9, 0.2)
