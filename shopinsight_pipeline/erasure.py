"""Erasing customers from every layer (issue 27.3): the right to erasure.

    python -m shopinsight_pipeline.erase C01234 [C05678 ...] --requested-by dpo@shop.example \
        --reason "request 2026-118" [--root data]

(or the `erase_customers_job` in the UI, with the same as run config). For the customers named it
removes their order lines from the landing files, and their rows from every table of the lake, all
days, published and staged: orders and the reviews of those orders in bronze, silver and the
quarantine, customer_events, the review-derived tables (token shards, scores, aspects), the gold
customer tables (by pseudonym) and the restricted mapping. It then recomputes daily_sales of the days
their orders were in, writes an audit entry (who asked, when, why, how many customers and rows per
table, the partitions rewritten and those of the derived tables to re-materialize: never the ids or
their data) under lake/restricted/erasures/, and records the erasure in lake/models/erasures.json:
every model trained before it saw their data and is stale until the next training run, which reads
the lake without them. The derived tables (trends, forecasts, sentiment, aspects, insights and the
report, whose windows held their orders or reviews) are re-materialized by the
`rematerialize_after_erasure` sensor after the job; after the CLI, by the command it prints.

Landing originals are overwritten, unless `keep_originals_days` (a legal hold; the retention
setting SHOPINSIGHT_ERASURE_HOLD_DAYS, 0 by default) keeps a copy under
lake/restricted/erasure_hold/until-<day>/ that the retention job deletes after that day.

All or nothing is not possible across hundreds of files; instead the plan (the ids to remove, in
every form tables hold them) is written first, each file is rewritten atomically, and a run that
dies midway is finished by running the same request again (the plan is picked up, partitions
already clean are left alone). A request that finds nothing reports it and writes nothing.
"""

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pyarrow.parquet as pq

from shopinsight_pipeline.files import read_json, write_bytes_atomic, write_json_atomic
from shopinsight_pipeline.privacy.erasure import (
    Removed,
    Subjects,
    ids_in,
    orders_csv_without,
    orders_in_csv,
    reviews_jsonl_without,
    without_subjects,
)
from shopinsight_pipeline.privacy.pseudonyms import pseudonym
from shopinsight_pipeline.storage import SHARDED_TABLES, STAGED_TABLES, TABLE_LAYERS, LakeStorage

MODELS = ("review_tokenizer", "sentiment_model", "aspect_tagger", "recommender_model")
HOLD_DAYS = int(os.environ.get("SHOPINSIGHT_ERASURE_HOLD_DAYS", "0"))  # a deployment setting (legal hold)
# The derived partitions to re-materialize, from the partitions the erasure rewrote (table -> days).
Downstream = Callable[[dict[str, set[date]]], dict[str, list[str]]]


class ErasureInProgress(RuntimeError):
    """Another erasure request was cut short: finish it first (run it again)."""


@dataclass
class ErasureReport:
    request_id: str
    found: bool
    removed: dict[str, int]
    daily_sales_days: list[str]
    audit_path: str | None
    to_rematerialize: dict[str, list[str]]
    rewritten: dict[str, list[str]]


def request_id_of(customer_ids: list[str]) -> str:
    """Names the request without naming the customers (a digest of the sorted ids)."""
    return hashlib.sha256("\n".join(sorted(customer_ids)).encode()).hexdigest()[:16]


def _partitions(storage: LakeStorage, table: str) -> list[tuple[date, bool]]:
    """(day, staged) of every published and staged partition of `table`."""
    published = [(day, False) for day in storage.partition_days(table)]
    staged = [(day, True) for day in storage.staged_days(table)] if table in STAGED_TABLES else []
    return published + staged


def _read(storage: LakeStorage, table: str, day: date, staged: bool) -> pl.DataFrame:
    if staged:
        with storage.staged_file(table, day).open("rb") as handle:
            return pl.read_parquet(handle)
    return storage.read_partition(table, day)


def find_subjects(storage: LakeStorage, customer_ids: list[str], key: bytes) -> Subjects:
    """The customers' orders and reviews, from the landing files and every order and review table."""
    customers = frozenset(customer_ids)
    orders: set[str] = set()
    for table in ("raw_orders", "validated_orders", "quarantined_orders", "customer_events"):
        for day, staged in _partitions(storage, table):
            frame = _read(storage, table, day, staged)
            orders |= ids_in(frame, "order_id", pl.col("customer_id").is_in(list(customers)))
    for path in sorted((storage.root_path / "landing" / "orders").glob("orders_*.csv")):
        orders |= orders_in_csv(path.read_bytes(), customers)  # a landing day not ingested yet too
    reviews: set[str] = set()
    for table in ("raw_reviews", "validated_reviews", "quarantined_reviews"):
        for day, staged in _partitions(storage, table):
            frame = _read(storage, table, day, staged)
            reviews |= ids_in(frame, "review_id", pl.col("order_id").is_in(list(orders)))
    return Subjects(
        customer_ids=customers,
        pseudonyms=frozenset(pseudonym(customer, key) for customer in customers),
        order_ids=frozenset(orders),
        review_ids=frozenset(reviews),
    )


def _holds_any(storage: LakeStorage, subjects: Subjects) -> bool:
    """Whether any table holds something of the subjects (an unknown id: no)."""
    if subjects.order_ids or subjects.review_ids:
        return True
    for table in ("customer_events", "customer_recommendations", "purchase_propensity", "customer_pseudonyms"):
        for day, staged in _partitions(storage, table):
            if without_subjects(_read(storage, table, day, staged), subjects)[1]:
                return True
    return False


def _erase_table(storage: LakeStorage, table: str, subjects: Subjects, removed: Removed) -> set[date]:
    """Rewrite every partition of `table` that holds the subjects' rows; the days rewritten."""
    days = set()
    for day, staged in _partitions(storage, table):
        if table in SHARDED_TABLES:
            shards = [pq.read_table(str(path)) for path in storage.partition_files(table, day)]
            kept = [pl.from_arrow(shard) for shard in shards]
            filtered = [without_subjects(frame, subjects) for frame in kept]  # type: ignore[arg-type]
            count = sum(number for _, number in filtered)
            if count:
                rewritten = [
                    frame.to_arrow().replace_schema_metadata(shard.schema.metadata)
                    for (frame, _), shard in zip(filtered, shards, strict=True)
                ]
                storage.write_partition_shards(table, day, rewritten)
        else:
            frame, count = without_subjects(_read(storage, table, day, staged), subjects)
            if count and staged:
                storage.stage_partition(table, day, frame)
            elif count:
                storage.write_partition(table, day, frame)
        if count:
            removed.add(table, count)
            days.add(day)
    return days


def erase_customers(
    storage: LakeStorage,
    customer_ids: list[str],
    key: bytes,
    requested_by: str,
    reason: str,
    log: Callable[[str], object] = print,
    downstream: Downstream | None = None,
    keep_originals_days: int = HOLD_DAYS,
) -> ErasureReport:
    """Remove the customers from the lake and the landing zone (see the module's docstring).
    `downstream` names the derived partitions to re-materialize (erasure_job.derived_partitions)."""
    from shopinsight_pipeline.reports.sales import summarize_daily_sales  # the one definition of the totals

    if not customer_ids:
        raise ValueError("name at least one customer id to erase")
    request_id = request_id_of(customer_ids)
    folder = storage.root_path / "lake" / "restricted" / "erasures"
    pending = folder / "pending.json"
    if pending.exists():
        plan = read_json(pending, "erasure plan")
        if plan["request_id"] != request_id:
            raise ErasureInProgress(
                f"erasure request {plan['request_id']} was cut short: run it again (same customers) before "
                f"another; its plan is {pending}"
            )
        subjects, removed = Subjects.from_json(plan["subjects"]), Removed(dict(plan.get("removed", {})))
        log(f"resuming erasure request {request_id}")
    else:
        subjects, removed = find_subjects(storage, customer_ids, key), Removed()
        if not _holds_any(storage, subjects):
            log(f"nothing found for {len(customer_ids)} customer(s): nothing changed")
            return ErasureReport(request_id, False, {}, [], None, {}, {})
        plan = {"request_id": request_id, "requested_at": datetime.now(UTC).isoformat(), "subjects": subjects.to_json()}
        write_json_atomic(plan, pending)

    # a resumed run keeps what the first one rewrote
    rewritten = {table: set(map(date.fromisoformat, days)) for table, days in plan.get("rewritten", {}).items()}
    for table in TABLE_LAYERS:
        days = _erase_table(storage, table, subjects, removed)
        if days:
            rewritten[table] = rewritten.get(table, set()) | days
        plan = {**plan, "removed": removed.rows, "rewritten": _as_lists(rewritten)}
        write_json_atomic(plan, pending)
    hold = storage.root_path / "lake" / "restricted" / "erasure_hold"
    hold_until = (date.fromisoformat(plan["requested_at"][:10]) + timedelta(days=keep_originals_days)).isoformat()
    landing = storage.root_path / "landing"
    cleaners = {
        "orders": lambda content: orders_csv_without(content, subjects.customer_ids),
        "reviews": lambda content: reviews_jsonl_without(content, subjects.order_ids, subjects.review_ids),
    }
    for source, without in cleaners.items():
        for path in sorted((landing / source).glob(f"{source}_*")):
            original = path.read_bytes()
            content, count = without(original)
            if count:
                if keep_originals_days > 0:  # the held copy first: a crash after it re-holds the same file
                    held = hold / f"until-{hold_until}" / path.relative_to(storage.root_path)
                    if not held.exists():
                        write_bytes_atomic(original, held)
                write_bytes_atomic(content, path)
                removed.add(f"landing/{source}", count)
    recomputed = []
    summed = set(storage.partition_days("validated_orders")) & set(storage.partition_days("daily_sales"))
    for day in sorted(rewritten.get("validated_orders", set())):
        if day in summed:
            sales = summarize_daily_sales(storage.read_partition("validated_orders", day))
            storage.write_partition("daily_sales", day, sales)
            recomputed.append(day.isoformat())
            rewritten.setdefault("daily_sales", set()).add(day)
    to_rematerialize = downstream(rewritten) if downstream else {}
    completed = datetime.now(UTC).isoformat()
    audit = {
        "request_id": request_id,
        "requested_by": requested_by,
        "reason": reason,
        "requested_at": plan["requested_at"],
        "completed_at": completed,
        "customers": len(subjects.customer_ids),
        "removed_rows": dict(sorted(removed.rows.items())),
        "daily_sales_recomputed": recomputed,
        "rewritten_partitions": _as_lists(rewritten),
        "to_rematerialize": to_rematerialize,  # the CLI's; after the job, its sensor derives them from the above
        "stale_models": list(MODELS),
        "originals_held_until": hold_until if keep_originals_days > 0 else None,
    }
    audit_path = folder / "audit" / f"{completed[:19].replace(':', '')}-{request_id}.json"
    write_json_atomic(audit, audit_path)
    ledger_path = storage.models_path / "erasures.json"
    ledger = read_json(ledger_path, "erasure ledger") if ledger_path.exists() else {"erasures": []}
    ledger["erasures"] = [*ledger["erasures"], {"request_id": request_id, "completed_at": completed}]
    ledger["last_erasure"] = completed  # every model trained before this saw the erased customers
    write_json_atomic(ledger, ledger_path)
    pending.unlink()
    log(f"erasure {request_id}: {sum(removed.rows.values())} rows and lines removed; audit {audit_path}")
    return ErasureReport(
        request_id, True, dict(removed.rows), recomputed, str(audit_path), to_rematerialize, _as_lists(rewritten)
    )


def _as_lists(days_by_table: dict[str, set[date]]) -> dict[str, list[str]]:
    return {table: sorted(day.isoformat() for day in days) for table, days in sorted(days_by_table.items())}
