"""`python -m shopinsight_pipeline.evaluate` against metrics worked out by hand, and its errors."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from shopinsight_pipeline import evaluate
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


HAND_WORKED_MATRIX = [[1, 1, 0], [0, 1, 1], [1, 0, 1]]  # ROWS through the stub (see the first test)


def write_wide_csv(path, extra_columns, rows=ROWS, label="label"):
    """review_text first, `extra_columns` empty columns, the label last: every data row is as wide as the header,
    so the label sits at position extra_columns + 1."""
    with path.open("w", encoding="utf-8") as stream:
        stream.write("review_text," + ",".join(f"extra{i}" for i in range(extra_columns)) + f",{label}\n")
        for text, value in rows:
            stream.write(text + "," * (extra_columns + 1) + value + "\n")
    return path


# Runs in a fresh interpreter, reading /proc: ru_maxrss would carry over the (larger) pytest parent's high-water
# mark through fork, while VmHWM is this process's own peak; growth = peak during the read - resident before it.
MEMORY_PROBE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from shopinsight_pipeline.evaluate import read_labelled_columns

    def kib(field):
        with open("/proc/self/status") as status:
            return int(next(line for line in status if line.startswith(field + ":")).split()[1])

    before = kib("VmRSS")
    start = time.perf_counter()
    texts, labels = read_labelled_columns(Path(sys.argv[1]), "review_text", "label")
    seconds = time.perf_counter() - start
    growth_mib = (kib("VmHWM") - before) / 1024
    print(json.dumps({"texts": texts, "labels": labels, "seconds": seconds, "growth_mib": growth_mib}))
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="measures memory from /proc")
def test_a_200k_column_csv_is_evaluated_from_its_two_columns_in_bounded_memory(tmp_path, stub_scorer, capsys):
    """Issue 25: the whole frame of every column used to be read (this file grew the process by ~900 MB in ~1.2 s);
    only the text and label fields are kept now, the label being the last of 200,002 columns."""
    path = write_wide_csv(tmp_path / "wide.csv", extra_columns=200_000)
    code, out, _ = run(capsys, path, "--model-dir", stub_scorer, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["examples"] == len(ROWS)
    assert report["confusion_matrix"] == HAND_WORKED_MATRIX

    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path)], capture_output=True, text=True, check=True, timeout=120
    )
    measured = json.loads(probe.stdout)
    assert measured["texts"] == [text for text, _ in ROWS]
    assert measured["labels"] == [label for _, label in ROWS]
    assert measured["growth_mib"] < 50, measured  # ~7 MiB (header line, one row); a whole-frame read grew ~900 MiB


def test_a_missing_column_of_a_very_wide_header_lists_a_few_columns_not_all(tmp_path, stub_scorer, capsys):
    path = write_wide_csv(tmp_path / "wide.csv", extra_columns=200_000, label="stars")
    code, _, err = run(capsys, path, "--model-dir", stub_scorer)
    assert code == 2
    assert f"{path} has no column ['label']; its first 20 columns are ['review_text', 'extra0'," in err
    assert "'extra18'] (of 200002)" in err
    assert len(err) < 1000


def test_a_bad_byte_is_located_exactly_when_the_utf8_check_reads_in_chunks(tmp_path, stub_scorer, capsys, monkeypatch):
    """The check decodes chunk by chunk; here a chunk ends inside '很' (two of its three bytes carried over) and
    the bad byte comes right after it, so the carried bytes must be counted back out of the offset."""
    prefix = "review_text,label\n很好,positive\n很".encode()
    content = prefix + "差".encode("gbk") + b",negative\n"
    offset = len(prefix)  # the first GBK byte
    monkeypatch.setattr(evaluate, "CHUNK_BYTES", offset - 1)
    path = tmp_path / "labelled.csv"
    path.write_bytes(content)
    code, _, err = run(capsys, path, "--model-dir", stub_scorer)
    assert code == 2
    assert f"{path} is not UTF-8 (invalid byte 0x{content[offset]:02x} at offset {offset})" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("review_text,label\n很好,positive,extra\n", "line 2: cannot parse as csv: 3 fields, but the header names 2"),
        ("review_text,label\n", "has a header but no rows"),
        ("text,label\n很好,positive\n", "has no column ['review_text']; its columns are ['text', 'label']"),
    ],
)
def test_bad_csv_files_give_clear_errors(tmp_path, stub_scorer, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    code, _, err = run(capsys, path, "--model-dir", stub_scorer)
    assert code == 2
    assert f"{path} {message}" in err


def test_label_map_read_from_a_file_with_at(tmp_path, stub_scorer, capsys):
    path = tmp_path / "ratings.csv"
    path.write_text("comment,stars\n很好,5\n太差,1\n还行,3\n", encoding="utf-8")
    label_map = tmp_path / "stars.json"
    label_map.write_text(json.dumps({"1": "negative", "3": "neutral", "5": "positive"}), encoding="utf-8")
    args = ["--text-column", "comment", "--label-column", "stars", "--label-map", f"@{label_map}"]
    code, out, _ = run(capsys, path, "--model-dir", stub_scorer, *args, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["macro_f1"] == pytest.approx(1.0)
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("absent.json", None, ": no such file"),
        ("broken.json", b'{"1": "negative",', " is not valid JSON"),
        ("list.json", b'["negative"]', " must be a JSON object"),
        ("gbk.json", '{"1": "差"}'.encode("gbk"), " is not UTF-8"),
        ("numbers.json", b'{"1": 0}', " must map onto class names (strings)"),
        ("folder", "dir", " is not a regular file (a directory)"),
    ],
)
def test_a_bad_label_map_file_is_named_in_the_error(tmp_path, stub_scorer, capsys, name, content, message):
    data = write_jsonl(tmp_path / "labelled.jsonl", ROWS)
    label_map = tmp_path / name
    if content == "dir":
        label_map.mkdir()
    elif content is not None:
        label_map.write_bytes(content)
    code, _, err = run(capsys, data, "--model-dir", stub_scorer, "--label-map", f"@{label_map}")
    assert code == 2
    assert f"error: --label-map file {label_map}{message}" in err


@pytest.fixture
def alarm():
    """Fail instead of hanging forever should the command ever open a FIFO (an open with no writer blocks)."""

    def hung(signum, frame):
        raise TimeoutError("the command blocked on its input")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "mkfifo"), reason="needs /dev/zero and FIFOs")
@pytest.mark.parametrize(
    ("kind", "described"),
    [
        ("device", "(a character device)"),
        ("fifo", "(a FIFO)"),
        ("link to device", "(a symlink to a character device)"),
        ("directory", "(a directory)"),
    ],
)
def test_a_device_fifo_directory_or_link_to_one_is_not_a_regular_file(
    tmp_path, stub_scorer, capsys, alarm, kind, described
):
    if kind == "device":
        path = "/dev/zero"
    elif kind == "fifo":
        path = tmp_path / "reviews.csv"
        os.mkfifo(path)
    elif kind == "link to device":
        path = tmp_path / "reviews.csv"
        path.symlink_to("/dev/zero")
    else:
        path = tmp_path / "reviews.csv"
        path.mkdir()
    code, _, err = run(capsys, path, "--model-dir", stub_scorer)  # refused up front: reading would never end
    assert code == 2
    assert err.strip() == f"error: {path} is not a regular file {described}"


def test_a_path_that_does_not_exist_is_still_no_such_file(tmp_path, stub_scorer, capsys):
    path = tmp_path / "missing.csv"
    code, _, err = run(capsys, path, "--model-dir", stub_scorer)
    assert code == 2
    assert err.strip() == f"error: {path}: no such file"
