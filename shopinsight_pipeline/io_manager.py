"""The lake's IO manager: assets receive their declared inputs as parameters and return their tables.

Why a `UPathIOManager` subclass and not dagster-polars' Parquet IO manager: the lake already has a
layout analysts and tests rely on (`<layer>/<table>/<key>=YYYY-MM-DD/part-N.parquet`, atomic
replace, sharded token tables whose tokenizer hash rides in the Parquet metadata, typed empty
frames for days without rows). `UPathIOManager` brings what is generic (partition ranges, fsspec
paths, the `path` metadata) and `LakeStorage` stays the one place that knows paths and writes;
dagster-polars would bring a second layout and a second write path to keep in line with it.

What an asset's parameter annotation asks for:

- `pl.DataFrame` (or none): the partition; a window of partitions concatenated in day order.
- `pl.LazyFrame`: the same as a lazy scan (e.g. one id column of 60 days reads only that column).
- `dict[str, pl.DataFrame]` / `dict[str, pl.LazyFrame]` / `dict[str, pa.Table]`: one entry per
  partition key that has been written, oldest first (arrow keeps the token shards' metadata).
- `dict` for an unpartitioned asset: the JSON document it returned (the tokenizer manifest).

Raw, validated and quarantined tables are written to lake/_staging/ and published together by the
validation step (LakeStorage.publish_day); an input with `read_staged` metadata (validation's raw
rows) reads a staged delivery before the published one, and every read of those tables first
finishes a publish that a crash cut short (settle_pending).

Windows (inputs with `TimeWindowPartitionMapping`) and inputs with `allow_missing_partitions`
metadata skip days not written yet: the start of the lake, a gap the asset then reports. A missing
day of any other input fails naming the path and the asset to materialize first.
"""

import json
import threading
import typing
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import ConfigurableIOManagerFactory, InputContext, MetadataValue, OutputContext, UPathIOManager
from upath import UPath

from shopinsight_pipeline.files import write_json_atomic
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.schemas import file_schema
from shopinsight_pipeline.storage import DAY_UNIT_OF, SHARDED_TABLES, STAGED_TABLES, LakeStorage


def _element_type(typing_type: Any) -> Any:
    """`dict[str, X]` -> X; anything else as it is."""
    if typing.get_origin(typing_type) is dict:
        arguments = typing.get_args(typing_type)
        return arguments[1] if len(arguments) == 2 else Any
    return typing_type


def _is_dict(typing_type: Any) -> bool:
    return typing_type is dict or typing.get_origin(typing_type) is dict


def _run_id(context: InputContext) -> str | None:
    """The run loading the input; None for a context built outside a run (tests)."""
    try:
        return context.step_context.run_id
    except Exception:
        return None


OBJECT_STORE_READERS = 16  # days of a window read at once from an object store
SOURCE_FILE = "__shopinsight_source_file"  # a read-at-once window's file of each row


class RunFrames:
    """Partitions of an object-store lake that a run has read, kept for its later steps (a nightly
    run reads the same days of daily_sales or validated_orders in several steps: 507 file reads,
    187 distinct, in the 30-day bench). Keyed by the file and the version its listing reported, so
    a rewritten file is read again; one run at a time (another run's arrival clears it, so a run
    never sees what an earlier one read); at most `max_bytes` of frames, least recently used out."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.run_id, self.size = max_bytes, "", 0
        self.frames: OrderedDict[tuple[str, str | None], pl.DataFrame] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, run_id: str, source: tuple[str, str | None]) -> pl.DataFrame | None:
        with self.lock:
            if run_id != self.run_id or source[1] is None or source not in self.frames:
                return None
            self.frames.move_to_end(source)
            return self.frames[source]

    def put(self, run_id: str, source: tuple[str, str | None], frame: pl.DataFrame) -> None:
        size = int(frame.estimated_size())
        with self.lock:
            if run_id != self.run_id:
                self.frames.clear()
                self.run_id, self.size = run_id, 0
            if source[1] is None or size > self.max_bytes or source in self.frames:
                return
            self.frames[source] = frame
            self.size += size
            while self.size > self.max_bytes:
                _, dropped = self.frames.popitem(last=False)
                self.size -= int(dropped.estimated_size())


RUN_FRAMES = RunFrames(max_bytes=256 * 2**20)


class LakeParquetIOManager(UPathIOManager):
    """Tables as Hive-partitioned Parquet under lake/, through LakeStorage's layout and atomic writes."""

    def __init__(self, storage: LakeStorage, labels: Sequence[str]):
        super().__init__(base_path=storage.root_path / "lake")
        self.storage, self.labels = storage, list(labels)

    # --- paths: LakeStorage's layout -------------------------------------------------------------
    def get_asset_relative_path(self, context: InputContext | OutputContext) -> UPath:
        """Unpartitioned assets (the tokenizer manifest) are JSON documents under lake/models/."""
        return UPath("models", f"{context.asset_key.path[-1]}.json")

    def get_path_for_partition(self, context: InputContext | OutputContext, path: UPath, partition: str) -> UPath:
        return self.storage.partition_file(context.asset_key.path[-1], date.fromisoformat(partition))

    # --- writing -----------------------------------------------------------------------------------
    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Partitioned assets return {partition_key: table}, one entry per day of the run (a bare
        table is accepted for a one-day run)."""
        if context.has_asset_partitions and isinstance(obj, dict) and len(context.asset_partition_keys) == 1:
            [key] = context.asset_partition_keys
            if set(obj) != {key}:
                raise TypeError(f"{context.asset_key.to_user_string()} ran for {key} but returned days {sorted(obj)}")
            obj = obj[key]
        if context.has_asset_partitions and len(context.asset_partition_keys) > 1:
            if not isinstance(obj, dict) or set(obj) != set(context.asset_partition_keys):
                raise TypeError(
                    f"{context.asset_key.to_user_string()} ran for {len(context.asset_partition_keys)} partitions "
                    "and must return one table per partition key (a dict keyed by the keys)"
                )
            paths = self._get_paths_for_partitions(context)
            for key in context.asset_partition_keys:
                self.dump_to_path(context, obj[key], paths[key])
            keys = sorted(paths)
            # where the files are, as a one-day run's "path" says: the table, the first and the last day's file
            table = self.storage.table_path(context.asset_key.path[-1])
            context.add_output_metadata(
                {
                    "partitions_written": len(paths),
                    "path": MetadataValue.path(str(table)),
                    "first_path": MetadataValue.path(str(paths[keys[0]])),
                    "last_path": MetadataValue.path(str(paths[keys[-1]])),
                }
            )
            return
        super().handle_output(context, obj)

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        table = context.asset_key.path[-1]
        if isinstance(obj, pl.DataFrame) and table in STAGED_TABLES:
            # published by validation (a day unit) or by the gold checks (gold_checks.py) once they pass
            self.storage.stage_partition(table, self._day(path), obj)
        elif isinstance(obj, pl.DataFrame):
            self.storage.write_partition(table, self._day(path), obj)
        elif isinstance(obj, list) and all(isinstance(shard, pa.Table) for shard in obj):
            self.storage.write_partition_shards(table, self._day(path), obj)
        elif isinstance(obj, dict) and not context.has_asset_partitions:
            write_json_atomic(obj, path)
        else:
            kinds = "polars DataFrames, lists of arrow shards or (unpartitioned) JSON dicts"
            raise TypeError(f"{table}: the lake stores {kinds}, got {type(obj)}")

    # --- reading -----------------------------------------------------------------------------------
    def load_from_path(self, context: InputContext, path: UPath) -> Any:
        if not context.has_asset_partitions:
            if not path.exists():
                raise FileNotFoundError(
                    f"{context.asset_key.to_user_string()} has not been materialized: expected {path}"
                )
            return json.loads(path.read_text(encoding="utf-8"))
        return self._read(context, self._day(path), _element_type(context.dagster_type.typing_type))

    def load_input(self, context: InputContext) -> Any:
        """Partitioned inputs always go through load_partitions, also when a window is empty (the
        first day's look-back): the asset gets an empty dict or frame, not None."""
        if context.has_asset_key and context.has_asset_partitions:
            return self.load_partitions(context)
        return super().load_input(context)

    def load_partitions(self, context: InputContext) -> Any:
        """Every requested partition that exists (missing ones fail unless the input allows them),
        as a dict or combined into one frame, by the parameter's annotation."""
        table = context.asset_key.path[-1]
        typing_type = context.dagster_type.typing_type
        element = _element_type(typing_type)
        allowed = bool((context.definition_metadata or {}).get("allow_missing_partitions"))
        staged_first = bool((context.definition_metadata or {}).get("read_staged"))
        if table in DAY_UNIT_OF:
            settled = self.storage.settle_pending(DAY_UNIT_OF[table])
            if settled:
                context.log.warning(f"finished publishing {DAY_UNIT_OF[table]} of {settled}, cut short by a crash")
        # one listing of the written days, not a request per asked day: a 365-day look-back on an
        # object store would otherwise cost 365 round trips, most for days never written
        written = self.storage.written_partitions(table)

        def read(key: str) -> Any:
            day = date.fromisoformat(key)
            if staged_first:
                return self.storage.read_staged_or_published(table, day)
            if day in written:
                return self._read(context, day, element, listed=True)
            if not allowed:  # raises MissingPartitionError naming the path, unless written since the listing
                return self._read(context, day, element)
            return None

        keys = sorted(context.asset_partition_keys)
        found: dict[str, Any] = {}
        run_id = _run_id(context)
        cacheable = table not in SHARDED_TABLES and element in (pl.DataFrame, pl.LazyFrame)
        if self.storage.is_object_store and cacheable and run_id is not None:
            found = self._from_run_cache(run_id, table, keys, written, element)
        rest = [key for key in keys if key not in found]
        if self.storage.is_object_store:  # each file is a few round trips: read the days side by side
            with ThreadPoolExecutor(max_workers=OBJECT_STORE_READERS) as pool:
                found.update(zip(rest, pool.map(read, rest), strict=True))
        else:
            found.update((key, read(key)) for key in rest)
        frames = [found[key] for key in keys]
        loaded = {key: frame for key, frame in zip(keys, frames, strict=True) if frame is not None}
        if len(loaded) < len(context.asset_partition_keys):
            context.log.debug(f"{table}: {len(context.asset_partition_keys) - len(loaded)} requested days not written")
        if _is_dict(typing_type):
            return loaded
        return self._combine(table, list(loaded.values()), element)

    def _from_run_cache(
        self, run_id: str, table: str, keys: list[str], written: dict[date, str | None], element: Any
    ) -> dict[str, Any]:
        """The days of an object store's window that this run has read before, unchanged since (the
        listing's version of each file is part of the key); for a frame input, the other written
        days too, read in one go and kept for the run's later steps."""
        sources = {
            key: (str(self.storage.partition_file(table, day)), written[day])
            for key in keys
            if (day := date.fromisoformat(key)) in written
        }
        found = {key: frame for key, source in sources.items() if (frame := RUN_FRAMES.get(run_id, source)) is not None}
        if element is pl.DataFrame:
            fresh = self._read_at_once(table, [key for key in sources if key not in found]) or {}
            for key, frame in fresh.items():
                RUN_FRAMES.put(run_id, sources[key], frame)
            found.update(fresh)
            return found
        return {key: frame.lazy() for key, frame in found.items()}  # a lazy input's other days are scanned

    def _read_at_once(self, table: str, keys: list[str]) -> dict[str, pl.DataFrame] | None:
        """Written one-file days of an object store's window in one polars read (one client, the
        requests side by side: about half the time of a read per day); None when the files' schemas
        differ, for the read per day to combine them."""
        if not keys:
            return {}
        files = {str(self.storage.partition_file(table, date.fromisoformat(key))): key for key in keys}
        try:
            window = pl.read_parquet(list(files), include_file_paths=SOURCE_FILE)
        except pl.exceptions.PolarsError:
            return None
        by_file = window.partition_by(SOURCE_FILE, as_dict=True, include_key=False)
        empty = window.clear().drop(SOURCE_FILE)  # a day written without rows
        return {key: by_file.get((file,), empty) for file, key in files.items()}

    def _read(self, context: InputContext, day: date, element: Any, listed: bool = False) -> Any:
        """One day's partition; `listed`: partition_days just saw it (storage.partition_files)."""
        paths = self.storage.partition_files(context.asset_key.path[-1], day, listed)
        files = [str(path) for path in paths]
        if element is pa.Table:
            return pa.concat_tables(pq.read_table(file) for file in files)
        if element is pl.LazyFrame:
            return pl.scan_parquet(files)
        return pl.read_parquet(files)

    def _combine(self, table: str, frames: list, element: Any) -> Any:
        if element is pa.Table:
            raise TypeError(f"{table}: ask for arrow shards as dict[str, pa.Table], one entry per day")
        if not frames:
            empty = pl.DataFrame(schema=file_schema(table, self.labels))
            return empty.lazy() if element is pl.LazyFrame else empty
        if element is pl.LazyFrame:
            return pl.concat(frames, how="vertical_relaxed")
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")

    @staticmethod
    def _day(path: UPath) -> date:
        return date.fromisoformat(path.parent.name.split("=", 1)[1])


class LakeIOManager(ConfigurableIOManagerFactory):
    """The lake IO manager over the LakeStorage resource (one definition of where files live)."""

    storage: LakeStorage
    sentiment_labels: SentimentLabels

    def create_io_manager(self, context) -> LakeParquetIOManager:
        return LakeParquetIOManager(self.storage, self.sentiment_labels.labels)
