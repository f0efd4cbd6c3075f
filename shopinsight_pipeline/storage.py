"""The one place that knows where files live and how tables are written.

Layout under `root`:
    landing/orders/orders_YYYY-MM-DD.csv, landing/reviews/reviews_YYYY-MM-DD.jsonl
    landing/calendar/sales_events.csv                       (the planner's sales events, kept by hand)
    lake/<layer>/<table>/date=YYYY-MM-DD/part-0.parquet   (Hive layout; sharded tables add part-1, ...)
    lake/gold/<run-date table>/run_date=YYYY-MM-DD/...     (tables computed for a run date from a window)
    lake/models/...                                        (tokenizers, model registry, checkpoints)
    lake/_staging/<raw|validated|quarantined table>/date=.../part-0.parquet, lake/_staging/_publish/
                                                           (a day's delivery and split awaiting publish_day)
    lake/_staging/<gold table>/<key>=.../part-0.parquet    (a gold partition awaiting its checks)

Every write is all or nothing (files.py: a rename on a POSIX filesystem, a whole-object upload or a
commit marker on an object store), so a reader never sees half a file and re-materializing a
partition replaces it instead of adding to it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import warnings
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import ConfigurableResource
from pydantic import Field
from upath import UPath

from shopinsight_pipeline.files import (
    MANIFEST,
    committed_files,
    fetch_folder,
    file_versions,
    is_local,
    move_file,
    publish_copy,
    read_json,
    remove_folder,
    swap_folder,
    write_json_atomic,
    write_parquet_atomic,
)

TABLE_LAYERS: dict[str, str] = {
    "raw_orders": "bronze",
    "raw_reviews": "bronze",
    "validated_orders": "silver",
    "validated_reviews": "silver",
    "quarantined_orders": "silver",
    "quarantined_reviews": "silver",
    "raw_inventory": "bronze",
    "validated_inventory": "silver",
    "quarantined_inventory": "silver",
    "products": "silver",
    "quarantined_products": "silver",
    "daily_sales": "gold",
    "review_token_shards": "silver",
    "review_scores": "silver",
    "review_aspects": "silver",
    "product_sentiment": "gold",
    "aspect_sentiment": "gold",
    "category_trends": "gold",
    "sales_forecast": "gold",
    "insights": "gold",
    "product_demand_forecast": "gold",
    "inventory_plan": "gold",
    "customer_events": "silver",
    "customer_recommendations": "gold",
    "purchase_propensity": "gold",
    # customer id -> pseudonym: operator-only (marketing sends resolve a pseudonym here)
    "customer_pseudonyms": "restricted",
}
# Tables computed for a run date from a window of days are partitioned by run_date=; every other
# table by date=. A file that holds a column named like its key holds the folder's value there, and no
# other column shares a key's name, so DuckDB and polars with Hive partitioning read what the file says.
RUN_DATE_TABLES: frozenset[str] = frozenset(
    {
        "sales_forecast",
        "insights",
        "customer_recommendations",
        "purchase_propensity",
        "product_demand_forecast",
        "inventory_plan",
    }
)
# Tables whose partition is a folder of shards (part-0, part-1, ...) rather than one file.
SHARDED_TABLES: frozenset[str] = frozenset({"review_token_shards"})
LANDING_SOURCES: dict[str, str] = {"orders": "csv", "reviews": "jsonl", "products": "csv", "inventory": "csv"}
# A day's delivery and its split move together: raw, validated and quarantined of one source become
# visible as one unit (LakeStorage.publish_day), so no reader sees one delivery's raw beside
# another's split. Writes of these tables are staged under lake/_staging/ until then. The product
# catalogue is read and split in one step (products/assets.py), so its two tables need no staging.
DAY_UNITS: dict[str, tuple[str, str, str]] = {
    source: (f"raw_{source}", f"validated_{source}", f"quarantined_{source}")
    for source in ("orders", "reviews", "inventory")
}
DAY_UNIT_OF: dict[str, str] = {table: source for source, tables in DAY_UNITS.items() for table in tables}
# Write, audit, publish: the daily gold tables are written under lake/_staging/ too, checked there,
# and published one partition at a time only when their blocking checks pass (gold_checks.py); a
# failing day stays staged for inspection and readers keep the previous version.
AUDITED_GOLD_TABLES: frozenset[str] = frozenset(table for table, layer in TABLE_LAYERS.items() if layer == "gold")
STAGED_TABLES: frozenset[str] = frozenset(DAY_UNIT_OF) | AUDITED_GOLD_TABLES
PARTITION_FILE = "part-0.parquet"


class MissingPartitionError(FileNotFoundError):
    """An upstream partition that a computation needs has not been written."""


class LakeStorage(ConfigurableResource):
    """Paths and atomic Parquet I/O for the landing zone and the lake."""

    root: str = Field(
        default="data",
        description="Folder (or fsspec URL, e.g. s3://bucket/shopinsight) holding landing/ and lake/.",
    )

    @property
    def root_path(self) -> UPath:
        return self.path(self.root)

    def landing_file(self, source: str, day: date) -> UPath:
        """The file a source system drops for `day`, e.g. landing/orders/orders_2026-08-01.csv."""
        if source not in LANDING_SOURCES:
            raise KeyError(f"unknown landing source {source!r}; known: {sorted(LANDING_SOURCES)}")
        extension = LANDING_SOURCES[source]
        return self.root_path / "landing" / source / f"{source}_{day.isoformat()}.{extension}"

    def sales_events_file(self) -> UPath:
        """The planner's calendar of sales events (inventory/events.py): one file, kept by hand."""
        return self.root_path / "landing" / "calendar" / "sales_events.csv"

    def table_path(self, table: str) -> UPath:
        if table not in TABLE_LAYERS:
            raise KeyError(f"unknown table {table!r}; known: {sorted(TABLE_LAYERS)}")
        return _table_path(self.root, table)

    def partition_file(self, table: str, day: date) -> UPath:
        return self.table_path(table) / f"{partition_column(table)}={day.isoformat()}/{PARTITION_FILE}"

    def write_partition(self, table: str, day: date, frame: pl.DataFrame) -> UPath:
        """Replace `table`'s partition for `day` with `frame`, atomically."""
        target = self.partition_file(table, day)
        write_parquet_atomic(frame, target)
        return target

    # --- a day's raw, validated and quarantined tables, published together ---------------------------
    def staged_file(self, table: str, day: date) -> UPath:
        """Where a staged table's new partition waits for its checks and publication:
        lake/_staging/<table>/<key>=YYYY-MM-DD/part-0.parquet (a day unit's for publish_day, a gold
        table's for publish_partition). Readers of the lake never look under _staging/."""
        if table not in STAGED_TABLES:
            raise KeyError(f"{table} is not staged; staged tables: {sorted(STAGED_TABLES)}")
        key = f"{partition_column(table)}={day.isoformat()}"
        return self.root_path / "lake" / "_staging" / table / key / PARTITION_FILE

    def staged_days(self, table: str) -> list[date]:
        """Days with a staged partition of `table` (awaiting validation or its checks), oldest first."""
        folder = self.staged_file(table, date(2000, 1, 1)).parent.parent
        if not folder.exists():
            return []
        # a published day leaves its folder behind, empty: only a folder with its file is staged
        days = (
            _partition_day(path.parent.name, partition_column(table)) for path in folder.glob(f"*/{PARTITION_FILE}")
        )
        return sorted(day for day in days if day is not None)

    def delete_partition(self, table: str, day: date) -> None:
        """Remove `table`'s partition of `day`, published and staged (retention, erasure): the
        folder goes whole, so no reader sees part of it."""
        folders = [self.partition_file(table, day).parent]
        if table in STAGED_TABLES:
            folders.append(self.staged_file(table, day).parent)
        for folder in folders:
            remove_folder(folder)

    def newest_row_count(self, table: str, day: date) -> int:
        """Rows of the partition a publish would make visible: the staged one if there is one, else
        the published one (from the Parquet footer; no data pages are read)."""
        staged = self.staged_file(table, day)
        if staged.exists():
            with staged.open("rb") as handle:
                return pq.ParquetFile(handle).metadata.num_rows
        return self.row_count(table, day)

    def publish_partition(self, table: str, day: date) -> UPath:
        """Make a staged (gold) partition the published one: one rename on a POSIX lake, a
        whole-object copy on an object store, so a reader sees the old file or the new one."""
        target = self.partition_file(table, day)
        move_file(self.staged_file(table, day), target)
        return target

    def stage_partition(self, table: str, day: date, frame: pl.DataFrame) -> UPath:
        """Write `table`'s new partition for `day` where readers do not look until publish_day."""
        target = self.staged_file(table, day)
        write_parquet_atomic(frame, target)
        return target

    def read_staged_or_published(self, table: str, day: date) -> pl.DataFrame:
        """The newest partition of a day-unit table: staged if a delivery awaits validation, else the
        published one (validation reads raw this way; everyone else reads what is published)."""
        staged = self.staged_file(table, day)
        if staged.exists():
            with staged.open("rb") as handle:
                return pl.read_parquet(handle)
        return self.read_partition(table, day)

    def _publish_intent(self, source: str, day: date) -> UPath:
        return self.root_path / "lake" / "_staging" / "_publish" / source / f"date={day.isoformat()}.json"

    def publish_day(self, source: str, day: date) -> list[str]:
        """Make the day's staged raw (if a new delivery was ingested), validated and quarantined
        partitions of `source` the published ones, as one unit: the moves are written down first
        (an intent), then done, then the intent is removed. A crash in between leaves the intent,
        and the next run or read of the source finishes the moves (settle_pending): the day is then
        wholly new, never half. Returns the tables published."""
        moves = {
            table: (str(self.staged_file(table, day)), str(self.partition_file(table, day)))
            for table in DAY_UNITS[source]
            if self.staged_file(table, day).exists()
        }
        intent = self._publish_intent(source, day)
        write_json_atomic({"day": day.isoformat(), "moves": moves}, intent)
        self._complete(intent)
        return sorted(moves)

    def _complete(self, intent: UPath) -> None:
        for staged, published in read_json(intent, "publish intent")["moves"].values():
            if self.path(staged).exists():
                move_file(self.path(staged), self.path(published))
        intent.unlink()

    def pending_publishes(self, source: str) -> dict[date, dict[str, str]]:
        """Days of `source` whose publish a crash cut short: table -> the file that holds its newest
        version (the staged one while not yet moved). Read-only: the query command reads through it."""
        folder = self._publish_intent(source, date(2000, 1, 1)).parent
        if not folder.exists():
            return {}
        pending = {}
        for intent in sorted(folder.glob("date=*.json")):
            plan = read_json(intent, "publish intent")
            pending[date.fromisoformat(plan["day"])] = {
                table: staged if self.path(staged).exists() else published
                for table, (staged, published) in plan["moves"].items()
            }
        return pending

    def settle_pending(self, source: str) -> list[date]:
        """Finish every publish of `source` a crash cut short (see publish_day); the days settled.
        Runs before anything reads or writes the source's tables: one listing when there is none."""
        settled = []
        for day in self.pending_publishes(source):
            self._complete(self._publish_intent(source, day))
            settled.append(day)
        return settled

    def write_partition_shards(self, table: str, day: date, shards: list[pa.Table]) -> list[UPath]:
        """Replace `table`'s partition for `day` with numbered shard files part-0, part-1, ...

        The shards are written into a hidden folder that is then swapped in for the old one, so a
        re-run never leaves shards of the previous run behind.
        """

        if table not in SHARDED_TABLES:
            raise ValueError(f"{table} is stored as one file per partition, not shards ({sorted(SHARDED_TABLES)})")

        def fill(staging: UPath) -> None:  # a local folder, also when the lake is an object store
            for number, shard in enumerate(shards):
                pq.write_table(shard, str(staging / f"part-{number}.parquet"))

        swap_folder(self.partition_file(table, day).parent, fill)
        return self.partition_files(table, day)

    def partition_files(self, table: str, day: date, listed: bool = False) -> list[UPath]:
        """The partition's Parquet files in shard order; fails naming the expected path if absent.
        `listed`: partition_days has just listed the day, so a one-file partition is not asked for
        again (a request saved per day on an object store)."""
        first = self.partition_file(table, day)
        if table not in SHARDED_TABLES:
            if not listed and not first.exists():
                raise self._missing(table, day, first)
            return [first]
        if not is_local(first):
            names = committed_files(first.parent)
            if names is None:
                if first.parent.exists():
                    raise MissingPartitionError(
                        f"{table} for {day.isoformat()} was not committed ({first.parent / MANIFEST} is missing: "
                        f"a run stopped while publishing it). Materialize {table} for that day again."
                    )
                raise self._missing(table, day, first)
            shards = [first.parent / name for name in names if name.startswith("part-") and name.endswith(".parquet")]
            return sorted(shards, key=lambda path: int(path.stem.removeprefix("part-")))
        if not first.exists():
            raise self._missing(table, day, first)
        shards = [
            path for path in first.parent.iterdir() if path.name.startswith("part-") and path.suffix == ".parquet"
        ]
        return sorted(shards, key=lambda path: int(path.stem.removeprefix("part-")))

    @staticmethod
    def _missing(table: str, day: date, expected: UPath) -> MissingPartitionError:
        return MissingPartitionError(
            f"{table} has no partition for {day.isoformat()}: expected {expected}. "
            f"Materialize {table} for that day first."
        )

    def read_partition(self, table: str, day: date) -> pl.DataFrame:
        frames = []
        for path in self.partition_files(table, day):
            with path.open("rb") as handle:
                frames.append(pl.read_parquet(handle))
        return pl.concat(frames) if len(frames) > 1 else frames[0]

    def row_count(self, table: str, day: date) -> int:
        """Rows in a written partition, from the Parquet footers (no data pages are read)."""
        total = 0
        for path in self.partition_files(table, day):
            with path.open("rb") as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
        return total

    def report_dir(self, day: date) -> UPath:
        """The insight report of a run date: lake/reports/insight_report/run_date=YYYY-MM-DD/."""
        return self.root_path / "lake" / "reports" / "insight_report" / f"run_date={day.isoformat()}"

    def write_report(self, day: date, files: dict[str, bytes]) -> UPath:
        """Replace the run date's report folder with `files` (name -> bytes) in one swap."""
        target = self.report_dir(day)

        def fill(staging: UPath) -> None:
            for name, content in files.items():
                (staging / name).write_bytes(content)

        swap_folder(target, fill)
        return target

    @property
    def models_path(self) -> UPath:
        """Tokenizers, the model registry and training checkpoints live under lake/models/."""
        return self.root_path / "lake" / "models"

    @property
    def is_object_store(self) -> bool:
        return not is_local(self.root_path)

    @staticmethod
    def path(location: str) -> UPath:
        """A local path or URL (the root, or one this storage wrote into a value or manifest) as a
        UPath; on an object store without a listings cache, so that what another process (a step,
        the sensor) wrote since is seen at once."""
        return _upath(location)

    @property
    def local_models_path(self) -> Path:
        """Where model folders are opened by local path (transformers, accelerate, safetensors): the
        lake's own lake/models/ on a POSIX lake; on an object store a cache on this machine
        (SHOPINSIGHT_CACHE_DIR, else ~/.cache/shopinsight/<digest of the root>), synced with
        pull_folder/push_folder and ModelRegistry.pull/push."""
        if not self.is_object_store:
            return Path(str(self.models_path))
        configured = os.environ.get("SHOPINSIGHT_CACHE_DIR")
        base = Path(configured) if configured else Path.home() / ".cache" / "shopinsight"
        return base / hashlib.sha256(self.root.encode()).hexdigest()[:12] / "models"

    def local_folder_of(self, folder: UPath) -> Path:
        """The local cache path that mirrors `folder` under lake/models/."""
        relative = folder.path.removeprefix(self.models_path.path).strip("/")
        return self.local_models_path / relative

    def pull_folder(self, folder: UPath) -> Path:
        """`folder` (under lake/models/) as a local path: itself on a POSIX lake, else a cached copy."""
        if is_local(folder):
            return Path(str(folder))
        return fetch_folder(folder, self.local_folder_of(folder))

    def push_folder(self, local: Path, folder: UPath) -> UPath:
        """Publish the local folder `local` as `folder` on an object store (nothing to do on a POSIX
        lake, where models are written in place); returns `folder`."""
        if not is_local(folder):
            publish_copy(local, folder)
        return folder

    @property
    def checkpoint_store(self) -> UPath | None:
        """Where training checkpoints are kept beyond the training machine (ml.checkpoints): on an
        object store lake/models/checkpoints/; None on a POSIX lake, whose local_models_path holds
        them already."""
        return self.models_path / "checkpoints" if self.is_object_store else None

    @property
    def sentiment_registry_path(self) -> Path:
        """The sentiment model registry, opened by local path (transformers opens models by path): on
        an object store the local cache, synced by ModelRegistry.pull and push."""
        return self.local_models_path / "sentiment"

    @property
    def sentiment_registry_store(self) -> UPath:
        """Where the sentiment registry is kept: the same folder as sentiment_registry_path on a POSIX
        lake; on an object store the published copy that ModelRegistry.pull/push sync with."""
        return self.models_path / "sentiment"

    def partition_days(self, table: str, before: date | None = None) -> list[date]:
        """Days for which `table` has a written partition (only those before `before`), oldest first."""
        return [day for day in self.written_partitions(table) if before is None or day < before]

    def written_partitions(self, table: str) -> dict[date, str | None]:
        """Each day with a written partition of `table`, oldest first, with the version of its
        partition file on an object store (None on a POSIX lake): see files.file_versions.

        A folder that holds a partition file but is not named exactly `<key>=YYYY-MM-DD` with a real
        date (a copy such as `date=2026-08-01.bak`, `date=2026-13-45`, `date=`) is skipped with a
        warning naming its path: one stray folder must not fail every query and every validation.
        Hidden folders are this module's own writes in flight (files.swap_folder) and are skipped
        silently."""
        base = self.table_path(table)
        key = partition_column(table)
        # one listing, not a request per day; a sharded folder on an object store counts once committed
        marker = MANIFEST if table in SHARDED_TABLES and not is_local(base) else PARTITION_FILE
        if is_local(base):
            if not base.exists():
                return {}
            folders: dict[str, str | None] = {path.parent.name: None for path in base.glob(f"*/{marker}")}
        else:  # one listing: UPath's glob costs about 10 ms per match on an object store
            folders = dict(file_versions(base, marker))
        days: dict[date, str | None] = {}
        for folder, version in folders.items():
            day = _partition_day(folder, key)
            if day is not None:
                days[day] = version
            elif not folder.startswith("."):
                warnings.warn(
                    f"skipping {base / folder}: not a partition of {table} (a folder named {key}=YYYY-MM-DD)",
                    stacklevel=2,
                )
        return dict(sorted(days.items()))


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _partition_day(folder: str, key: str) -> date | None:
    """The day a partition folder named exactly `<key>=YYYY-MM-DD` holds, else None. The pattern
    comes first: date.fromisoformat also takes 20260801 and 2026-W31-6, which no writer here makes."""
    value = folder.removeprefix(f"{key}=")
    if value == folder or not _ISO_DAY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:  # 2026-13-45: the right shape, no such day
        return None


@functools.lru_cache(maxsize=4096)
def _upath(location: str) -> UPath:
    """LakeStorage.path, kept: building an object store's UPath costs about 0.2 ms, and a nightly
    run asks for the same few thousand paths again and again (UPaths are immutable)."""
    path = UPath(location)
    return path if is_local(path) else UPath(location, use_listings_cache=False)


@functools.lru_cache(maxsize=1024)
def _table_path(root: str, table: str) -> UPath:
    return _upath(root) / "lake" / TABLE_LAYERS[table] / table


def clear_path_cache() -> None:
    """Forget the kept UPaths, whose filesystem client (endpoint, credentials) is made on first use:
    for a process that points the same URL at another store (the tests start a server per module),
    together with fsspec's own instance cache (e.g. s3fs.S3FileSystem.clear_instance_cache())."""
    _table_path.cache_clear()
    _upath.cache_clear()


def partition_column(table: str) -> str:
    """The Hive key of `table`'s partition folders: run_date for run-date tables, else date."""
    return "run_date" if table in RUN_DATE_TABLES else "date"
