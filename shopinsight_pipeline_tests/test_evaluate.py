"""`python -m shopinsight_pipeline.evaluate` against metrics worked out by hand, and its errors."""

import json
import math

import numpy as np
import pytest

from shopinsight_pipeline.evaluate import main
from shopinsight_pipeline.ml.baseline import ARRAYS_FILE, SETTINGS_FILE, TfidfSettings
from shopinsight_pipeline.ml.scorers import CANDIDATE_FILE

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture
def stub_scorer(tmp_path):
    """A TF-IDF scorer written by hand: '好' means positive, '差' negative, neither neutral."""
    folder = tmp_path / "stub"
    folder.mkdir()
    settings = {"settings": TfidfSettings().__dict__, "vocabulary": {"好": 0, "差": 1}}
    (folder / SETTINGS_FILE).write_text(json.dumps(settings, ensure_ascii=False), encoding="utf-8")
    coefficients = np.array([[0.0, 5.0], [0.0, 0.0], [5.0, 0.0]])
    np.savez(folder / ARRAYS_FILE, idf=np.ones(2), coefficients=coefficients, intercepts=np.array([0.0, 1.0, 0.0]))
    (folder / CANDIDATE_FILE).write_text(json.dumps({"kind": "tfidf_logreg", "labels": LABELS}), encoding="utf-8")
    return folder


ROWS = [  # text, true label -> the stub predicts
    ("很好", "positive"),  # positive
    ("太差", "negative"),  # negative
    ("还行", "neutral"),  # neutral
    ("不差", "positive"),  # negative
    ("好吧", "neutral"),  # positive
    ("一般", "negative"),  # neutral
]


def write_jsonl(path, rows, text="review_text", label="label"):
    path.write_text(
        "\n".join(json.dumps({text: t, label: lab}, ensure_ascii=False) for t, lab in rows), encoding="utf-8"
    )
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_matches_metrics_computed_by_hand(tmp_path, stub_scorer, capsys):
    path = write_jsonl(tmp_path / "labelled.jsonl", ROWS)
    code, out, _ = run(capsys, path, "--model-dir", stub_scorer, "--json")
    assert code == 0
    report = json.loads(out)
    # confusion: true negative -> (negative, neutral); neutral -> (neutral, positive); positive -> (positive, negative)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 1, 1], [1, 0, 1]]
    for label in LABELS:  # each class: 1 right of 2 predicted and of 2 true
        assert report["per_class"][label] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["macro_f1"] == pytest.approx(0.5)
    assert report["accuracy"] == pytest.approx(0.5)
    sure = math.exp(5) / (1 + math.e + math.exp(5))  # softmax of logits (0, 1, 5)
    unsure = math.e / (2 + math.e)  # softmax of logits (0, 1, 0)
    assert report["ece"] == pytest.approx(4 / 6 * abs(0.5 - sure) + 2 / 6 * abs(0.5 - unsure))


def test_csv_with_other_column_names_and_a_rating_map(tmp_path, stub_scorer, capsys):
    path = tmp_path / "ratings.csv"
    path.write_text("comment,stars\n很好,5\n太差,1\n还行,3\n", encoding="utf-8")
    label_map = json.dumps({"1": "negative", "3": "neutral", "5": "positive"})
    args = [
        path,
        "--model-dir",
        stub_scorer,
        "--text-column",
        "comment",
        "--label-column",
        "stars",
        "--label-map",
        label_map,
    ]
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "macro-F1 1.0000" in out
    assert "confusion matrix" in out


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (
            b'{"text": "\xe5\xa5\xbd", "label": "positive"}',
            [],
            "has no column ['review_text']; its columns are ['text', 'label']",
        ),
        ('{"review_text": "好", "label": "great"}'.encode(), [], "row 1: unknown label 'great' in 'label'"),
        (b"", [], "is empty"),
        (
            '{"review_text": "好", "label": "positive"}'.encode() + '\n{"review_text": "差评"}'.encode("gbk"),
            [],
            "is not UTF-8",
        ),
        (b'{"review_text": "  ", "label": "positive"}', [], "row 1: empty 'review_text'"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, stub_scorer, capsys, content, args, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    code, _, err = run(capsys, path, "--model-dir", stub_scorer, *args)
    assert code == 2
    assert message in err
    assert str(path) in err


def test_no_promoted_model_says_what_to_do(tmp_path, capsys):
    path = write_jsonl(tmp_path / "labelled.jsonl", ROWS)
    code, _, err = run(capsys, path, "--root", tmp_path / "empty-lake")
    assert code == 2
    assert "Materialize sentiment_model first" in err


@pytest.mark.parametrize(
    ("stub_weight", "expected"),
    [(0.75, [[1, 1, 0], [0, 1, 1], [1, 0, 1]]), (0.25, [[0, 1, 1], [1, 1, 0], [1, 0, 1]])],
)
def test_an_ensemble_version_evaluates_as_the_mix_of_its_parts(tmp_path, stub_scorer, capsys, stub_weight, expected):
    """The stub mixed with its opposite ('好' negative, '差' positive): the heavier part decides."""
    opposite = tmp_path / "opposite"
    opposite.mkdir()
    for name in (SETTINGS_FILE, CANDIDATE_FILE):
        (opposite / name).write_bytes((stub_scorer / name).read_bytes())
    coefficients = np.array([[5.0, 0.0], [0.0, 0.0], [0.0, 5.0]])
    np.savez(opposite / ARRAYS_FILE, idf=np.ones(2), coefficients=coefficients, intercepts=np.array([0.0, 1.0, 0.0]))
    ensemble = tmp_path / "ensemble"
    ensemble.mkdir()
    parts = [{"version": "stub", "weight": stub_weight}, {"version": "opposite", "weight": 1 - stub_weight}]
    candidate = {"kind": "ensemble", "labels": LABELS, "parts": parts}
    (ensemble / CANDIDATE_FILE).write_text(json.dumps(candidate), encoding="utf-8")

    code, out, _ = run(capsys, write_jsonl(tmp_path / "labelled.jsonl", ROWS), "--model-dir", ensemble, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["scorer"]["kind"] == "ensemble"
    assert report["confusion_matrix"] == expected


def test_an_unmatched_quote_in_a_csv_names_its_line_not_a_parser_dump(tmp_path, stub_scorer, capsys):
    path = tmp_path / "labelled.csv"
    path.write_text('review_text,label\n很好,positive\n"太差,negative\n还行,neutral\n', encoding="utf-8")
    code, _, err = run(capsys, path, "--model-dir", stub_scorer)
    assert code == 2
    assert err.strip() == f'error: {path} line 3: a quoted field opens here and is never closed (an unmatched ")'
