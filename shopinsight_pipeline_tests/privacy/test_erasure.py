"""Erasure (issue 27.3): a customer removed from every layer leaves no trace of their id or pseudonym
in any Parquet file, landing file or model folder, row conservation and the daily_sales totals still
hold, an unknown customer changes nothing, and an erasure killed midway is finished by a re-run."""

import json
import subprocess
import sys
from datetime import date

import polars as pl
import pytest

from shopinsight_pipeline.erase import main
from shopinsight_pipeline.privacy.erasure import (
    Subjects,
    orders_csv_without,
    orders_in_csv,
    reviews_jsonl_without,
    without_subjects,
)
from shopinsight_pipeline.privacy.pseudonyms import pseudonym
from shopinsight_pipeline.resources import SAMPLE_PSEUDONYM_KEY
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.privacy.erasure_lake import a_reviewer, copy_of, digest, traces


def test_an_erased_customer_leaves_no_trace_and_the_books_still_balance(customer_lake, tmp_path, capsys):
    root = copy_of(customer_lake, tmp_path)
    customer = a_reviewer(root)
    alias = pseudonym(customer, SAMPLE_PSEUDONYM_KEY.encode())
    assert traces(root, [customer]) and traces(root, [alias])  # they are there to begin with
    storage = LakeStorage(root=str(root))
    before = {
        day: storage.read_partition("daily_sales", day)["revenue"].sum()
        for day in storage.partition_days("daily_sales")
    }

    # default: the derived partitions (here category_trends) are re-materialized after the erasure
    assert main([customer, "--requested-by", "dpo@shop.example", "--reason", "ticket 118", "--root", str(root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["found"] and report["removed"]["landing/orders"] >= 1 and report["removed"]["validated_orders"] >= 1
    assert report["removed"]["validated_reviews"] >= 1 and report["removed"]["customer_events"] >= 1

    assert traces(root, [customer, alias]) == []
    for entity in ("orders", "reviews"):  # every raw row is still validated or quarantined
        for day in storage.partition_days(f"raw_{entity}"):
            raw, valid, rejected = (
                storage.row_count(f"{kind}_{entity}", day) for kind in ("raw", "validated", "quarantined")
            )
            assert raw == valid + rejected, (entity, day)
    for day in storage.partition_days("daily_sales"):  # totals: the validated orders that remain, not cancelled
        orders = storage.read_partition("validated_orders", day).filter(pl.col("status") != "cancelled")
        assert storage.read_partition("daily_sales", day)["revenue"].sum() == pytest.approx(orders["line_total"].sum())
    after = {day: storage.read_partition("daily_sales", day)["revenue"].sum() for day in before}
    assert sum(after.values()) < sum(before.values())  # their purchases left the totals
    assert report["to_rematerialize"]["category_trends"]
    for day in map(date.fromisoformat, report["to_rematerialize"]["category_trends"]):  # trends: today's sales
        trends = storage.read_partition("category_trends", day).select("category", "revenue").sort("category")
        sales = storage.read_partition("daily_sales", day).select("category", "revenue").sort("category")
        assert trends.join(sales, on="category", how="left")["revenue_right"].fill_null(0.0).to_list() == (
            pytest.approx(trends["revenue"].to_list())
        )

    [audit_file] = (root / "lake" / "restricted" / "erasures" / "audit").glob("*.json")
    audit = json.loads(audit_file.read_text())
    assert audit["requested_by"] == "dpo@shop.example" and audit["reason"] == "ticket 118" and audit["customers"] == 1
    assert audit["removed_rows"]["validated_orders"] == report["removed"]["validated_orders"]
    assert customer not in audit_file.read_text() and alias not in audit_file.read_text()  # never the erased data
    ledger = json.loads((root / "lake" / "models" / "erasures.json").read_text())
    assert ledger["last_erasure"] == audit["completed_at"]  # models trained before it are stale
    assert not (root / "lake" / "restricted" / "erasures" / "pending.json").exists()

    unchanged = digest(root)  # asked again: nothing is left to find
    assert main([customer, "--requested-by", "dpo@shop.example", "--root", str(root), "--no-rematerialize"]) == 0
    assert json.loads(capsys.readouterr().out)["found"] is False and digest(root) == unchanged


def test_an_unknown_customer_is_reported_as_nothing_found_and_changes_nothing(customer_lake, tmp_path, capsys):
    root = copy_of(customer_lake, tmp_path)
    before = digest(root)
    assert main(["C99999999", "--requested-by", "dpo@shop.example", "--root", str(root), "--no-rematerialize"]) == 0
    assert json.loads(capsys.readouterr().out) == {"found": False, "removed": {}, "audit": None, "to_rematerialize": {}}
    assert digest(root) == before


# Runs the erasure, dying (as SIGKILL would) at the N-th atomic rename, N = argv[3].
KILLED = """
import os, sys
from shopinsight_pipeline.erase import main
crash_at, calls = int(sys.argv[3]), 0
real = os.replace
def counted(*args):
    global calls
    calls += 1
    if calls == crash_at:
        os._exit(137)
    return real(*args)
os.replace = counted
sys.exit(main([sys.argv[2], "--requested-by", "dpo", "--root", sys.argv[1], "--no-rematerialize"]))
"""


@pytest.mark.parametrize("crash_at", [2, 12])
def test_an_erasure_killed_midway_is_finished_by_running_it_again(customer_lake, tmp_path, capsys, crash_at):
    root = copy_of(customer_lake, tmp_path)
    customer = a_reviewer(root)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED, str(root), customer, str(crash_at)], capture_output=True, timeout=300
    )
    assert killed.returncode == 137, killed.stderr.decode()[-2000:]
    assert (root / "lake" / "restricted" / "erasures" / "pending.json").exists()  # the plan survived
    assert main([customer, "--requested-by", "dpo", "--root", str(root), "--no-rematerialize"]) == 0
    assert json.loads(capsys.readouterr().out)["found"]
    alias = pseudonym(customer, SAMPLE_PSEUDONYM_KEY.encode())
    assert traces(root, [customer, alias]) == []


def test_rows_and_landing_lines_are_matched_by_every_form_the_customer_takes():
    subjects = Subjects(frozenset({"C1"}), frozenset({"c_ab"}), frozenset({"O1"}), frozenset({"R1"}))
    frame = pl.DataFrame({"review_id": ["R1", "R2", None], "order_id": ["O9", "O1", "O2"], "text": ["a", "b", "c"]})
    kept, removed = without_subjects(frame, subjects)
    assert removed == 2 and kept["review_id"].to_list() == [None]
    untouched, none = without_subjects(pl.DataFrame({"x": [1]}), subjects)  # a table that names nobody
    assert none == 0 and untouched.equals(pl.DataFrame({"x": [1]}))
    csv_file = b'order_id,customer_id,note\nO1,C1,x\nO2,"C2",y\nO3, C1 ,z\nshort\n'
    assert orders_csv_without(csv_file, frozenset({"C1"})) == (b'order_id,customer_id,note\nO2,"C2",y\nshort\n', 2)
    assert orders_in_csv(csv_file, frozenset({"C1"})) == {"O1", "O3"}  # the orders of a day not ingested yet
    assert orders_in_csv(csv_file, frozenset({"C7"})) == set()
    assert orders_csv_without(csv_file, frozenset({"C7"})) == (csv_file, 0)
    escaped = b'{"review_id":"R\\u00e9","order_id":"O5"}\n{"review_id":"R2","order_id":"O6"}'  # JSON writes R\u00e9
    kept = b'{"review_id":"R2","order_id":"O6"}'
    assert reviews_jsonl_without(escaped, frozenset(), frozenset({"R\u00e9"})) == (kept, 1)
    jsonl = (
        b'{"review_id":"R1","order_id":"O5"}\n{"review_id":"R7","order_id":"O1"}\n'
        b'{"review_id":"R8","order_id":"O8"}\n{"order_id":"O1", trunc'
    )
    assert reviews_jsonl_without(jsonl, frozenset({"O1"}), frozenset({"R1"})) == (
        b'{"review_id":"R8","order_id":"O8"}',
        3,
    )
