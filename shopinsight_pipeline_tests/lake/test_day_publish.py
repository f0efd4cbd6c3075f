"""A day's raw, validated and quarantined tables move together (issue 25.5): a crash or a full disk
at any write leaves the day wholly old or, once the next run or read finishes the publish, wholly new."""

import errno
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from shopinsight_pipeline import files
from shopinsight_pipeline.query import open_lake
from shopinsight_pipeline.sample import write_sample
from shopinsight_pipeline.storage import DAY_UNITS, LakeStorage
from shopinsight_pipeline_tests.conftest import (
    PERMISSIVE,
    SMALL_SPEC,
    materialize_assets,
    materialize_days,
    sample_days,
)

DAY = date(2026, 8, 1)
TABLES = DAY_UNITS["orders"]

# Stages the day's three tables as delivery `argv[2]` and publishes them, dying (as SIGKILL would:
# no cleanup, no finally) at the N-th rename or delete, N = argv[3]; prints the count when it lives.
WRITER = """
import os, sys
from datetime import date
import polars as pl
from shopinsight_pipeline.storage import DAY_UNITS, LakeStorage

crash_at, calls = int(sys.argv[3]), 0

def counted(operation):
    def run(*args, **kwargs):
        global calls
        calls += 1
        if calls == crash_at:
            os._exit(137)
        return operation(*args, **kwargs)
    return run

os.replace, os.unlink = counted(os.replace), counted(os.unlink)
storage = LakeStorage(root=sys.argv[1])
for table in DAY_UNITS["orders"]:
    storage.stage_partition(table, date(2026, 8, 1), pl.DataFrame({"delivery": [sys.argv[2]], "table": [table]}))
storage.publish_day("orders", date(2026, 8, 1))
print("writes", calls)
"""


def write_day(root: Path, delivery: str, crash_at: int = 0) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WRITER, str(root), delivery, str(crash_at)], capture_output=True, text=True, timeout=120
    )


def deliveries(storage: LakeStorage) -> set[str]:
    """Which delivery each published table of the day holds."""
    return {storage.read_partition(table, DAY).item(0, "delivery") for table in TABLES}


def test_a_kill_at_every_write_leaves_the_day_wholly_old_or_wholly_new(tmp_path):
    old = tmp_path / "old"
    assert write_day(old, "old").returncode == 0
    finished = write_day(tmp_path / "count", "new")
    writes = int(finished.stdout.split()[-1])
    assert writes >= 8  # three staged files, the intent, three moves, the intent's removal
    outcomes = set()
    for crash_at in range(1, writes + 1):
        root = tmp_path / f"killed_at_{crash_at}"
        shutil.copytree(old, root)
        assert write_day(root, "new", crash_at).returncode == 137
        storage = LakeStorage(root=str(root))
        # what a reader that cannot write sees (the query command): one delivery, never two
        pending = storage.pending_publishes("orders").get(DAY, {})
        visible = {
            pl.read_parquet(pending.get(table, str(storage.partition_file(table, DAY)))).item(0, "delivery")
            for table in TABLES
        }
        assert len(visible) == 1, (crash_at, visible)
        storage.settle_pending("orders")  # what the next run or read does first
        settled = deliveries(storage)
        assert settled == visible, (crash_at, settled, visible)
        outcomes |= settled
        # the next delivery publishes over whatever the crash left, and leaves no temp file behind
        assert write_day(root, "next").returncode == 0
        assert deliveries(storage) == {"next"}
        assert not [path for path in (root / "lake").rglob("*") if path.name.endswith((".tmp", ".old"))]
    assert outcomes == {"old", "new"}  # both sides of the publish were hit


def test_a_full_disk_at_any_write_leaves_the_day_wholly_old_or_wholly_new(tmp_path, monkeypatch):
    storage = LakeStorage(root=str(tmp_path))
    for table in TABLES:
        storage.write_partition(table, DAY, pl.DataFrame({"delivery": ["old"], "table": [table]}))
    real_replace, calls = os.replace, {"n": 0, "full_at": 0}

    def replace(source, target):
        calls["n"] += 1
        if calls["n"] == calls["full_at"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    for full_at in range(1, 8):
        calls.update(n=0, full_at=full_at)
        with pytest.raises(OSError, match="No space left"):
            for table in TABLES:
                storage.stage_partition(table, DAY, pl.DataFrame({"delivery": ["new"], "table": [table]}))
            storage.publish_day("orders", DAY)
        calls["full_at"] = 0
        storage.settle_pending("orders")
        assert len(deliveries(storage)) == 1, full_at
        for table in TABLES:  # back to old for the next case
            storage.write_partition(table, DAY, pl.DataFrame({"delivery": ["old"], "table": [table]}))
        shutil.rmtree(tmp_path / "lake" / "_staging", ignore_errors=True)


def test_an_object_store_publish_cut_short_is_finished_by_the_next_reader(monkeypatch):
    storage = LakeStorage(root="memory://day-publish")
    for table in TABLES:
        storage.stage_partition(table, DAY, pl.DataFrame({"delivery": ["new"], "table": [table]}))
    real_move, moved = files.move_file, []

    def move_then_die(source, target):
        if moved:
            raise KeyboardInterrupt("killed")  # the process dies after the first move
        real_move(source, target)
        moved.append(target)

    monkeypatch.setattr("shopinsight_pipeline.storage.move_file", move_then_die)
    with pytest.raises(KeyboardInterrupt):
        storage.publish_day("orders", DAY)
    assert [storage.partition_days(table) for table in TABLES].count([DAY]) == 1  # one of three moved
    monkeypatch.setattr("shopinsight_pipeline.storage.move_file", real_move)
    assert storage.settle_pending("orders") == [DAY]
    assert deliveries(storage) == {"new"}
    assert storage.pending_publishes("orders") == {}


def test_a_new_delivery_is_invisible_until_validation_publishes_it_with_its_split(tmp_path):
    """Issue 25.5: a landing file replaced, then validation killed, left raw_orders with the new rows
    beside the old split. Now the new raw waits in staging until validation publishes all three."""
    write_sample(tmp_path, SMALL_SPEC)
    first = sample_days(SMALL_SPEC)[0]
    instance = DagsterInstance.ephemeral()
    assert all(result.success for result in materialize_days(tmp_path, [first], instance))
    storage = LakeStorage(root=str(tmp_path))
    before = {table: storage.read_partition(table, first) for table in TABLES}
    landing = storage.landing_file("orders", first)
    lines = landing.read_text(encoding="utf-8").splitlines(keepends=True)
    landing.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")  # a new, smaller delivery
    key = first.isoformat()

    assert materialize_assets(tmp_path, instance, ["raw_orders"], partition_key=key).success
    for table in TABLES:  # nothing published changed: the old delivery and its split, together
        assert storage.read_partition(table, first).equals(before[table])
    assert storage.staged_file("raw_orders", first).exists()
    with open_lake(storage) as (connection, _):
        [(raw_rows,)] = connection.execute(f"select count(*) from raw_orders where date = '{key}'").fetchall()
    assert raw_rows == before["raw_orders"].height

    only_orders = {"ops": {"validate_orders": PERMISSIVE["ops"]["validate_orders"]}}
    result = materialize_assets(tmp_path, instance, ["validated_orders", "quarantined_orders"], only_orders, key)
    assert result.success
    published = {table: storage.read_partition(table, first) for table in TABLES}
    assert published["raw_orders"].height == len(lines) // 2 - 1  # the header is no row
    assert (
        published["raw_orders"].height == published["validated_orders"].height + published["quarantined_orders"].height
    )
    assert not storage.staged_file("raw_orders", first).exists()
    checks = {check.check_name: check.passed for check in result.get_asset_check_evaluations()}
    assert checks["rows_conserved"]


def test_the_query_command_reads_a_day_whose_publish_was_cut_short_as_one_delivery(tmp_path):
    old = tmp_path / "lake_root"
    assert write_day(old, "old").returncode == 0
    assert write_day(old, "new", crash_at=5).returncode == 137  # after the intent, before the last moves
    storage = LakeStorage(root=str(old))
    assert storage.pending_publishes("orders")
    with open_lake(storage) as (connection, views):
        assert set(TABLES) <= set(views)
        seen = {connection.execute(f"select any_value(delivery) from {table}").fetchone()[0] for table in TABLES}
    assert seen == {"new"}
    assert storage.pending_publishes("orders")  # the reader changed nothing
