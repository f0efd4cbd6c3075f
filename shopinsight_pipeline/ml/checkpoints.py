"""A training job's checkpoints, kept beyond the machine that trains.

Accelerate saves and loads checkpoints by local path, so training always checkpoints into a folder
on this machine (`local`). On an object-store lake each complete checkpoint is also published to
the store (`remote`, lake/models/checkpoints/<job>/step_NNNNNNN/, with its commit marker and the
best weights so far), so that a retried run resumes on whichever machine picks it up:

- `pull` before training: the store's furthest committed step, when it is further than this
  machine's, is copied into the local folder (a publish cut short has no marker and is ignored);
- `push` after each checkpoint: the new step is published whole, then older steps are deleted (a
  crash between the two leaves two committed steps; the next pull takes the later one);
- `discard` once training finished: the job's folder leaves the store, as it leaves the machine.

On a POSIX lake `remote` is None: the local folder is in the lake already, and all three do
nothing. No Dagster here (the multi-process launcher builds one from its job file).
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from upath import UPath

from shopinsight_pipeline.files import MANIFEST, copy_into, fetch_folder, folders_holding, swap_folder
from shopinsight_pipeline.ml.train import BEST_WEIGHTS, COMPLETE, latest_checkpoint

STEP_PREFIX = "step_"


@dataclass(frozen=True)
class CheckpointMirror:
    local: Path
    remote: UPath | None = None

    @classmethod
    def from_url(cls, local: Path, url: str | None) -> "CheckpointMirror":
        """Rebuilt from `url` (what `remote_url` gave) in another process, such as a training rank."""
        return cls(local, UPath(url, use_listings_cache=False) if url else None)

    @property
    def remote_url(self) -> str | None:
        return None if self.remote is None else str(self.remote)

    def committed_steps(self) -> list[str]:
        """The step folders the store holds with their commit marker, oldest first."""
        if self.remote is None or not self.remote.exists():
            return []
        return [name for name in folders_holding(self.remote, MANIFEST) if name.startswith(STEP_PREFIX)]

    def pull(self) -> str | None:
        """Copy the store's furthest step here when this machine has none as far; returns its name."""
        steps = self.committed_steps()
        if not steps:
            return None
        furthest = steps[-1]
        here = latest_checkpoint(self.local)
        if here is not None and here.name >= furthest:
            return None
        target = self.local / furthest
        fetch_folder(self.remote / furthest, target)  # type: ignore[operator]  # steps imply a remote
        if (target / BEST_WEIGHTS).is_file():
            shutil.copyfile(target / BEST_WEIGHTS, self.local / f".{BEST_WEIGHTS}.pulled")
            os.replace(self.local / f".{BEST_WEIGHTS}.pulled", self.local / BEST_WEIGHTS)
        return furthest

    def push(self, step: Path) -> None:
        """Publish the complete checkpoint `step` (a folder under `local`) with the best weights so
        far, then delete the store's other steps."""
        if self.remote is None:
            return
        if not (step / COMPLETE).is_file():
            raise ValueError(f"{step} is not a complete checkpoint: {COMPLETE} is missing")

        def fill(staging: UPath) -> None:
            copy_into(step, staging)
            if (self.local / BEST_WEIGHTS).is_file():
                shutil.copyfile(self.local / BEST_WEIGHTS, str(staging / BEST_WEIGHTS))

        swap_folder(self.remote / step.name, fill)
        for path in self.remote.fs.ls(self.remote.path, detail=False):  # earlier steps, committed or cut short
            if path.rstrip("/").rsplit("/", 1)[-1] != step.name:
                self.remote.fs.rm(path, recursive=True)

    def discard(self) -> None:
        """The job finished: remove its checkpoints here and in the store."""
        shutil.rmtree(self.local, ignore_errors=True)
        if self.remote is not None and self.remote.exists():
            self.remote.fs.rm(self.remote.path, recursive=True)
