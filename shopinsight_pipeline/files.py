"""All-or-nothing writes of tables, folders and manifests (no Dagster here: ml/ uses them too).

On a local or shared POSIX filesystem every write goes to a hidden temporary path beside the
target and is then renamed over it, so a reader never sees half a file and a re-run replaces what
an earlier run wrote instead of adding to it.

Object stores (an fsspec URL such as s3://bucket/prefix) have no rename: one object is published
whole when its upload completes, so a single file is simply written. A folder (token shards, the
report, a model) is built in a local staging folder and published in four steps: its commit marker
(`_manifest.json`) is removed, the files are uploaded, files of an earlier run that the new one
does not have are deleted, and the marker is written listing the files. Readers of such folders go
by the marker (`committed_files`): a crash before the last step leaves the folder without one, so
it reads as not written, and the next run of the same partition or model replaces it.
"""

import functools
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl
from upath import UPath

LOCAL_PROTOCOLS = ("", "file", "local")
MANIFEST = "_manifest.json"


def is_local(path: UPath | Path) -> bool:
    """Whether `path` is on a POSIX filesystem (renames are atomic) rather than an object store."""
    return getattr(path, "protocol", "") in LOCAL_PROTOCOLS


def write_parquet_atomic(frame: pl.DataFrame, target: UPath) -> None:
    """Write `frame` to `target` so that readers see the old file or the new one, never a mix."""
    if not is_local(target):
        with target.open("wb") as handle:  # an object appears only once its upload completes
            frame.write_parquet(handle)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        frame.write_parquet(str(temporary))
        os.replace(str(temporary), str(target))
    finally:
        if temporary.exists():
            temporary.unlink()


def remove_stale_temporaries(target: UPath | Path) -> None:
    """Temp files of an earlier write of `target` that a killed process left (`.name.<id>.tmp`):
    the next write of the same file removes them, so a crash leaves no litter for good. Two writers
    of one partition at once are not supported anyway (the last rename would win)."""
    for stale in Path(str(target.parent)).glob(f".{target.name}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def move_file(source: UPath, target: UPath) -> None:
    """Move one file over another: a rename on a POSIX filesystem, a copy then a delete on an object
    store. Run again after a crash it finishes the job (a source already gone means it was done)."""
    if is_local(target):
        Path(str(target.parent)).mkdir(parents=True, exist_ok=True)
        os.replace(str(source), str(target))
        return
    target.fs.copy(source.path, target.path)
    source.fs.rm_file(source.path)


def remove_folder(folder: UPath | Path) -> None:
    """Delete a folder and what it holds, local or on an object store (absent: nothing to do)."""
    if not folder.exists():
        return
    if is_local(folder):
        shutil.rmtree(str(folder))
    else:
        folder.fs.rm(folder.path, recursive=True)  # type: ignore[union-attr]


def write_bytes_atomic(content: bytes, target: UPath | Path) -> None:
    """A small file (a manifest, a pointer) with the same all-or-nothing rule as tables."""
    if not is_local(target):
        target.write_bytes(content)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    temporary.write_bytes(content)
    os.replace(str(temporary), str(target))


def write_json_atomic(payload: dict, target: UPath | Path) -> None:
    """Small JSON documents (manifests, pointers) with the same all-or-nothing rule as tables."""
    write_bytes_atomic(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8"), target)


def read_json(path: UPath | Path, what: str) -> dict:
    """Read a manifest; a missing one fails naming the path and what would have written it."""
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: expected {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def swap_folder(target: UPath, fill: Callable[[UPath], None]) -> None:
    """Replace the folder `target` with what `fill` writes into the (empty) folder it is given, so
    no run leaves files of an earlier run behind and no reader sees a half-written folder."""
    if not is_local(target):
        _publish_to_object_store(target, fill)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    for retired_before in Path(str(target.parent)).glob(f".{target.name}.*.old"):
        shutil.rmtree(retired_before, ignore_errors=True)
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


def _publish_to_object_store(target: UPath, fill: Callable[[UPath], None]) -> None:
    """Uncommit, upload, prune, commit (the module docstring says why and what a crash leaves)."""
    with tempfile.TemporaryDirectory(prefix="shopinsight-publish-") as folder:
        staging = Path(folder)
        fill(UPath(staging))  # first, so a failing fill leaves the published folder as it was
        manifest = folder_manifest(staging)
        names = sorted(manifest["files"])
        marker = target / MANIFEST
        if marker.exists():
            marker.unlink()
        filesystem = target.fs
        for name in names:
            filesystem.put_file(str(staging / name), (target / name).path)
        keep = {(target / name).path for name in names}
        if target.exists():
            stale = [path for path in filesystem.find(target.path) if path not in keep]
            if stale:
                filesystem.rm(stale)
        write_json_atomic(manifest, marker)


def folder_manifest(folder: Path) -> dict:
    """Every file under `folder` (relative names) with its SHA-256: the same content gives the same
    manifest, so a re-run publishes identical objects and a cached copy knows when it is current."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            files[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"files": files}


def fetch_folder(published: UPath, copy: Path) -> Path:
    """A local copy of a folder published to an object store (for code that opens models by local
    path: transformers, safetensors, scikit-learn files). Downloaded only when the published
    manifest differs from the copy's, and swapped in whole, so concurrent readers of the copy never
    see a mix."""
    marker = published / MANIFEST
    if not marker.exists():
        raise FileNotFoundError(f"{published} has not been published: {MANIFEST} is missing")
    wanted = marker.read_bytes()
    if (copy / MANIFEST).is_file() and (copy / MANIFEST).read_bytes() == wanted:
        return copy
    names = json.loads(wanted)["files"]

    def fill(staging: UPath) -> None:
        for name in names:
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            published.fs.get_file((published / name).path, str(staging / name))
        (staging / MANIFEST).write_bytes(wanted)

    swap_folder(UPath(copy), fill)
    return copy


def copy_into(source: Path, staging: UPath) -> None:
    """A `fill` for swap_folder that publishes an existing local folder as it is."""
    shutil.copytree(source, str(staging), dirs_exist_ok=True)


def publish_copy(local: Path, target: UPath) -> None:
    """Publish the local folder `local` as `target` on an object store, unless the store already
    holds exactly this content (its marker lists the same hashes): a re-run uploads nothing."""
    marker = target / MANIFEST
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == folder_manifest(local):
        return
    swap_folder(target, functools.partial(copy_into, local))


def folders_holding(parent: UPath, name: str) -> list[str]:
    """The folders directly under `parent` (an object store) that hold a file `name`, from one
    paginated listing (fsspec's find), not a request per folder."""
    return sorted(file_versions(parent, name))


def file_versions(parent: UPath, name: str) -> dict[str, str]:
    """Folder -> version of its file `name`, for the folders directly under `parent` (an object
    store) that hold one, from one paginated listing: the version (the object's ETag, else its size
    and modification time) changes whenever the file is written again."""
    found = {}
    for path, info in parent.fs.find(parent.path, detail=True).items():
        parts = path.removeprefix(parent.path).strip("/").split("/")
        if len(parts) == 2 and parts[1] == name:
            found[parts[0]] = str(info.get("ETag") or (info.get("size"), info.get("LastModified") or info.get("mtime")))
    return found


def committed_files(folder: UPath) -> list[str] | None:
    """The files a published object-store folder holds (relative names), or None when its commit
    marker is missing: never published, or a run stopped while publishing it."""
    listed = _committed_manifest(folder)
    return None if listed is None else sorted(listed)


def _committed_manifest(folder: UPath) -> dict[str, str] | None:
    """File name -> SHA-256 from a published folder's commit marker; None without a marker."""
    marker = folder / MANIFEST
    if not marker.exists():
        return None
    return json.loads(marker.read_text(encoding="utf-8"))["files"]


def read_committed(folder: UPath, names: Sequence[str]) -> dict[str, bytes]:
    """The files `names` of a folder swap_folder published, checked against its commit marker on an
    object store: a folder whose publish stopped (no marker), or that is being published again while
    it is read (a file whose SHA-256 is not the marker's), raises instead of mixing two versions.
    A local folder is read as it is (swapped in by rename, never half there)."""
    if is_local(folder):
        return {name: (folder / name).read_bytes() for name in names}
    listed = _committed_manifest(folder)
    if listed is None:
        raise FileNotFoundError(
            f"{folder} was not committed ({MANIFEST} is missing: never published, or a run stopped "
            "while publishing it). Materialize the asset that publishes it again."
        )
    contents = {}
    for name in names:
        if name not in listed:
            raise FileNotFoundError(f"{folder / name}: not in the folder's {MANIFEST}")
        content = (folder / name).read_bytes()
        if hashlib.sha256(content).hexdigest() != listed[name]:
            raise RuntimeError(
                f"{folder / name} does not match {folder / MANIFEST} (the folder is being published again "
                "while it is read): retry the step once the publish has finished"
            )
        contents[name] = content
    return contents
