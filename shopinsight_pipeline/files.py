"""All-or-nothing writes of tables, folders and manifests (no Dagster here: ml/ uses them too).

Every write goes to a hidden temporary path beside the target and is then renamed over it, so a
reader never sees half a file and a re-run replaces what an earlier run wrote instead of adding to it.
"""

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import polars as pl
from upath import UPath


def write_parquet_atomic(frame: pl.DataFrame, target: UPath) -> None:
    """Write `frame` to `target` so that readers see the old file or the new one, never a mix.

    Locally that is a temp file in the same folder plus os.replace. Object stores publish an
    object only once its upload completes, so there a direct write is already atomic.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.protocol not in ("", "file", "local"):
        with target.open("wb") as handle:
            frame.write_parquet(handle)
        return
    temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        frame.write_parquet(str(temporary))
        os.replace(str(temporary), str(target))
    finally:
        if temporary.exists():
            temporary.unlink()


def swap_folder(target: UPath, fill: Callable[[UPath], None]) -> None:
    """Build a folder's new content beside it (`fill` writes into a hidden staging folder), then
    swap it in with two renames, so no run leaves files of an earlier run behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    staging.mkdir()
    try:
        fill(staging)
        retired = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
        if target.exists():
            os.replace(str(target), str(retired))
        os.replace(str(staging), str(target))
        shutil.rmtree(str(retired), ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(str(staging), ignore_errors=True)


def write_json_atomic(payload: dict, target: UPath | Path) -> None:
    """Small JSON documents (manifests, pointers) with the same all-or-nothing rule as tables."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    temporary.write_text(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    os.replace(str(temporary), str(target))


def read_json(path: UPath | Path, what: str) -> dict:
    """Read a manifest; a missing one fails naming the path and what would have written it."""
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: expected {path}")
    return json.loads(path.read_text(encoding="utf-8"))
