"""The erasure as a Dagster job (issue 27.3): run config names the customers, the op's typed pandas
report counts what went, and the sensor that follows asks for the derived partitions whose windows
held them; a legal hold keeps the landing originals until the retention job's day comes."""

import json
from datetime import date, timedelta

import pandas as pd
from dagster import (
    AssetDep,
    AssetKey,
    AssetSpec,
    DagsterInstance,
    TimeWindowPartitionMapping,
    build_run_status_sensor_context,
    check_dagster_type,
)

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.erase import main
from shopinsight_pipeline.erasure_job import ErasureCounts, derived_partitions, rematerialize_after_erasure
from shopinsight_pipeline.privacy.pseudonyms import pseudonym
from shopinsight_pipeline.reports.trends import HISTORY_DAYS
from shopinsight_pipeline.resources import SAMPLE_PSEUDONYM_KEY
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.privacy.erasure_lake import a_reviewer, copy_of, traces

DAY = date(2026, 8, 10)


def test_a_changed_day_reaches_every_later_day_whose_window_reads_it_and_what_reads_those():
    specs = [
        AssetSpec("weekly", deps=[AssetDep("sales", partition_mapping=TimeWindowPartitionMapping(-2, 0))]),
        AssetSpec("digest", deps=["weekly"]),  # same day
        AssetSpec("lagged", deps=[AssetDep("sales", partition_mapping=TimeWindowPartitionMapping(-3, -1))]),
        AssetSpec("unrelated", deps=["other"]),
    ]
    affected = derived_partitions(specs, {"sales": [DAY]}, targets=["weekly", "digest", "lagged", "unrelated"])
    window = {DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)}
    assert affected == {"weekly": window, "digest": window, "lagged": {DAY + timedelta(days=n) for n in (1, 2, 3)}}


def test_the_projects_lineage_gives_trends_for_the_history_window_after_a_changed_sales_day(tmp_path):
    specs = build_definitions(str(tmp_path)).resolve_all_asset_specs()
    affected = derived_partitions(specs, {"daily_sales": [DAY]})
    assert affected["category_trends"] == {DAY + timedelta(days=n) for n in range(HISTORY_DAYS)}
    assert affected["category_trends"] <= affected["insights"] <= affected["insight_report"]  # read on the same day
    assert "product_sentiment" not in affected  # computed from reviews' scores, not from sales


def test_the_erasure_counts_type_refuses_a_place_twice_or_a_count_of_zero():
    good = pd.DataFrame({"place": ["validated_orders", "landing/orders"], "removed": [3, 1]})
    assert check_dagster_type(ErasureCounts, good).success
    assert not check_dagster_type(ErasureCounts, good.assign(removed=[3, 0])).success
    assert not check_dagster_type(ErasureCounts, good.assign(place=["validated_orders"] * 2)).success


def test_the_erasure_job_erases_and_its_sensor_asks_for_each_days_derived_partitions(customer_lake, tmp_path):
    root = copy_of(customer_lake, tmp_path)
    customer = a_reviewer(root)
    defs = build_definitions(str(root))
    instance = DagsterInstance.ephemeral()
    config = {"customer_ids": [customer], "requested_by": "dpo@shop.example", "reason": "ticket 7"}
    result = defs.resolve_job_def("erase_customers_job").execute_in_process(
        run_config={"ops": {"erase_customers_op": {"config": config}}}, instance=instance
    )
    assert result.success
    counts = result.output_for_node("erase_customers_op")
    assert isinstance(counts, pd.DataFrame) and {"validated_orders", "landing/orders"} <= set(counts["place"])
    assert traces(root, [customer, pseudonym(customer, SAMPLE_PSEUDONYM_KEY.encode())]) == []

    context = build_run_status_sensor_context(
        sensor_name="rematerialize_after_erasure",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
        resources={"storage": LakeStorage(root=str(root))},
        repository_def=defs.get_repository_def(),
    )
    requests = rematerialize_after_erasure(context)
    [audit_file] = (root / "lake" / "restricted" / "erasures" / "audit").glob("*.json")
    order_days = json.loads(audit_file.read_text())["rewritten_partitions"]["validated_orders"]
    existing = {day.isoformat() for day in LakeStorage(root=str(root)).partition_days("category_trends")}

    def reads(day: str, order_day: str) -> bool:  # trends of a day read the HISTORY_DAYS of daily_sales up to it
        return 0 <= (date.fromisoformat(day) - date.fromisoformat(order_day)).days < HISTORY_DAYS

    reads_an_order_day = {day for day in existing if any(reads(day, order_day) for order_day in order_days)}
    assert reads_an_order_day and [request.partition_key for request in requests] == sorted(reads_an_order_day)
    assert all(request.asset_selection == [AssetKey("category_trends")] for request in requests)
    assert len({request.run_key for request in requests}) == len(requests)  # one run per day, asked once


def test_held_originals_stay_until_their_day_and_then_the_retention_job_deletes_them(customer_lake, tmp_path, capsys):
    root = copy_of(customer_lake, tmp_path)
    customer = a_reviewer(root)
    args = [customer, "--requested-by", "dpo", "--root", str(root), "--keep-originals-days", "30"]
    assert main([*args, "--no-rematerialize"]) == 0
    assert json.loads(capsys.readouterr().out)["found"]
    hold = root / "lake" / "restricted" / "erasure_hold"
    [folder] = hold.glob("until-*")
    held_until = date.fromisoformat(folder.name.removeprefix("until-"))
    assert held_until == date.today() + timedelta(days=30) or held_until == date.today() + timedelta(days=29)
    assert traces(folder, [customer])  # the originals, in the hold
    outside = [place for place in traces(root, [customer]) if not place.startswith("lake/restricted/erasure_hold/")]
    assert outside == []

    job = build_definitions(str(root)).resolve_job_def("retention_job")

    def retention_on(today: date) -> dict:
        config = {"ops": {"purge_expired_originals": {"config": {"keep_days": 3650, "today": today.isoformat()}}}}
        result = job.execute_in_process(run_config=config, instance=DagsterInstance.ephemeral())
        assert result.success
        return result.output_for_node("purge_expired_originals")

    assert retention_on(held_until) == {} and folder.exists()  # its last day: kept
    assert retention_on(held_until + timedelta(days=1)) == {"erasure_hold": 1} and not folder.exists()
    assert traces(root, [customer]) == []
