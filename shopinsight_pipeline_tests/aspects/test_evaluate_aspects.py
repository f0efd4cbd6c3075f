"""`python -m shopinsight_pipeline.evaluate FILE --task aspects`: the serving aspect tagger scored on
an outside labelled file, restricted with --aspects, and bad labels named by row."""

import csv
import json
from pathlib import Path

import pytest

from shopinsight_pipeline.evaluate import main

ROWS = [  # every aspect here is named by a seed word: the lexicon finds each, and nothing else
    {"text": "物流很快", "aspects": {"logistics": "positive"}},
    {"text": "质量很差", "aspects": {"quality": "negative"}},
    {"text": "很满意", "aspects": {}},
    {"text": "价格便宜，客服态度好", "aspects": {"price": "positive", "service": "positive"}},
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    from shopinsight_pipeline.devtools.scorers import register_corpus_scorer
    from shopinsight_pipeline.ml.registry import ModelRegistry

    return register_corpus_scorer(ModelRegistry(tmp_path_factory.mktemp("registry")), 2000, "test: evaluate aspects")


def run(capsys, *arguments: str) -> tuple[int, str, str]:
    code = main([*arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_jsonl_file_is_scored_per_aspect_with_macro_f1_in_json(tmp_path, model_dir, capsys):
    path = tmp_path / "outside.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in ROWS), encoding="utf-8")
    code, out, _ = run(capsys, str(path), "--task", "aspects", "--model-dir", str(model_dir), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["aspects_scored"] == ["logistics", "price", "service", "quality"]  # taxonomy order
    assert report["macro_f1"] == 1.0  # four aspects, each found exactly where labelled
    assert report["per_aspect"]["quality"] == {"support": 1, "predicted": 1, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert report["polarity_judged"] == 4 and 0 <= report["polarity_accuracy"] <= 1


def test_a_csv_restricted_to_some_aspects_scores_only_those(tmp_path, model_dir, capsys):
    path = tmp_path / "outside.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["review", "labels"])
        for row in ROWS:
            writer.writerow([row["text"], json.dumps(row["aspects"], ensure_ascii=False)])
    arguments = [str(path), "--task", "aspects", "--text-column", "review", "--aspects-column", "labels"]
    code, out, _ = run(capsys, *arguments, "--aspects", "logistics,quality", "--model-dir", str(model_dir))
    assert code == 0
    assert "macro-F1 1.0000" in out and "over 2 aspects" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith(("logistics", "quality", "price"))] == [
        "logistics",
        "quality",
    ]


@pytest.mark.parametrize(
    "aspects, message",
    [
        ({"courier": "negative"}, "row 2: unknown aspects ['courier']"),
        ({"price": "bad"}, "row 2: polarity ['bad'] is not one of"),
        (["price"], "row 2: aspects must be a JSON object"),
    ],
)
def test_a_bad_label_is_named_by_file_and_row(tmp_path, model_dir, capsys, aspects, message):
    path = tmp_path / "bad.jsonl"
    rows = [ROWS[0], {"text": "好", "aspects": aspects}]
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows), encoding="utf-8")
    code, _, err = run(capsys, str(path), "--task", "aspects", "--model-dir", str(model_dir))
    assert code == 2
    assert f"{path} {message}" in err


def test_an_unknown_aspect_in_the_restriction_is_refused(tmp_path, model_dir, capsys):
    path = tmp_path / "outside.jsonl"
    path.write_text(json.dumps(ROWS[0], ensure_ascii=False), encoding="utf-8")
    code, _, err = run(capsys, str(path), "--task", "aspects", "--aspects", "courier", "--model-dir", str(model_dir))
    assert code == 2 and "--aspects names ['courier']" in err


def test_the_tagger_aspect_tagger_chose_in_the_roots_lake_is_the_one_scored(tmp_path, model_dir, capsys):
    from shopinsight_pipeline.aspects.learned import LearnedTagger
    from shopinsight_pipeline.aspects.lexicon import LexiconTagger
    from shopinsight_pipeline.aspects.taxonomy import load_taxonomy

    path = tmp_path / "outside.jsonl"
    unseeded = {"text": "等了一周才到手", "aspects": {"logistics": "negative"}}  # no seed word: the lexicon misses it
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in [*ROWS, unseeded]), encoding="utf-8")
    root = tmp_path / "data"
    arguments = [str(path), "--task", "aspects", "--model-dir", str(model_dir), "--root", str(root), "--json"]
    code, out, _ = run(capsys, *arguments)
    assert code == 0 and json.loads(out)["tagger"]["kind"] == "lexicon"  # aspect_tagger has not run
    before = json.loads(out)["per_aspect"]["logistics"]["recall"]

    delivery = [
        f"{seed}{words}{n}" for n, (seed, words) in enumerate([("物流", "等了一周"), ("快递", "一周才到手")] * 40)
    ]
    learned = LearnedTagger.fit(delivery + [f"很满意{n}" for n in range(120)], LexiconTagger(load_taxonomy()))
    folder = root / "lake/models/aspects/tfidf_ovr"
    learned.at_threshold(0.5).save(folder)
    pointer = {"serving": "tfidf_ovr", "path": str(folder), "taxonomy_version": load_taxonomy().version}
    (root / "lake/models/aspect_tagger.json").write_text(json.dumps(pointer))
    code, out, _ = run(capsys, *arguments)
    report = json.loads(out)
    assert code == 0 and report["tagger"]["kind"] == "tfidf_ovr"
    assert report["per_aspect"]["logistics"]["recall"] > before
