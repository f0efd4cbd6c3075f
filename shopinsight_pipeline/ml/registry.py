"""Model registry on the lake: one folder per version and a champion pointer.

    lake/models/sentiment/versions/<version>/   candidate.json, weights, tokenizer, MODEL_CARD.md
    lake/models/sentiment/champion.json         the promoted version; scoring reads only this

A version folder is complete or absent (written beside, then renamed). The champion changes only
through `promote`, which the champion/challenger check calls.
"""

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shopinsight_pipeline.storage import read_json, write_json_atomic

CHAMPION_FILE = "champion.json"


@dataclass(frozen=True)
class Decision:
    """What the champion/challenger gate decided and why, in words an operator can read."""

    challenger: str  # version the new training run puts forward
    promoted: str | None  # version that serves after this run (None: keep the current champion)
    passed: bool
    reason: str


@dataclass(frozen=True)
class Candidate:
    version: str
    kind: str
    macro_f1: float


def choose(
    transformer: Candidate,
    baseline: Candidate,
    champion: Candidate | None,
    transformer_margin: float,
    tolerance: float,
) -> Decision:
    """The transformer must beat the baseline by `transformer_margin` to be the challenger; the
    challenger replaces the champion unless it is worse than it by more than `tolerance`."""
    if transformer.macro_f1 >= baseline.macro_f1 + transformer_margin:
        challenger = transformer
        why = (
            f"fine-tuned transformer {transformer.macro_f1:.4f} beats the TF-IDF baseline {baseline.macro_f1:.4f} "
            f"by at least {transformer_margin:.4f}"
        )
    else:
        challenger = baseline
        why = (
            f"fine-tuned transformer {transformer.macro_f1:.4f} does not beat the TF-IDF baseline "
            f"{baseline.macro_f1:.4f} by {transformer_margin:.4f}, so the baseline is the challenger"
        )
    if champion is None:
        return Decision(challenger.version, challenger.version, True, f"{why}; no champion yet, promoted")
    if challenger.macro_f1 >= champion.macro_f1 - tolerance:
        return Decision(
            challenger.version,
            challenger.version,
            True,
            f"{why}; not worse than champion {champion.version} ({champion.macro_f1:.4f}, "
            f"tolerance {tolerance:.4f}), promoted",
        )
    return Decision(
        challenger.version,
        None,
        False,
        f"{why}; worse than champion {champion.version} ({champion.macro_f1:.4f}) by more than {tolerance:.4f}: "
        "champion kept",
    )


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def versions_path(self) -> Path:
        return self.root / "versions"

    def version_path(self, version: str) -> Path:
        return self.versions_path / version

    @staticmethod
    def new_version(kind: str, fingerprint: str) -> str:
        return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{kind}-{fingerprint[:8]}"

    def staging_path(self) -> Path:
        """A hidden folder to build a version in before `publish` renames it into place."""
        path = self.versions_path / f".staging-{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        return path

    def publish(self, staging: Path, version: str) -> Path:
        target = self.version_path(version)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
        return target

    def champion(self) -> dict | None:
        path = self.root / CHAMPION_FILE
        return read_json(path, "champion pointer") if path.exists() else None

    def require_champion(self) -> dict:
        champion = self.champion()
        if champion is None:
            raise FileNotFoundError(
                f"no promoted sentiment model: {self.root / CHAMPION_FILE} does not exist. "
                "Materialize sentiment_model first (it trains, evaluates and promotes a scorer)."
            )
        if not self.version_path(champion["version"]).is_dir():
            raise FileNotFoundError(
                f"champion pointer names version {champion['version']} "
                f"but {self.version_path(champion['version'])} is missing"
            )
        return champion

    def promote(self, version: str, kind: str, macro_f1: float | None, reason: str) -> dict:
        pointer = {
            "version": version,
            "kind": kind,
            "test_macro_f1": macro_f1,
            "reason": reason,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "path": str(self.version_path(version)),
        }
        write_json_atomic(pointer, self.root / CHAMPION_FILE)
        return pointer
