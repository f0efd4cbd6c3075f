"""Model registry on the lake: one folder per version and a champion pointer.

    lake/models/sentiment/versions/<version>/   candidate.json, weights, tokenizer, MODEL_CARD.md
    lake/models/sentiment/champion.json         the promoted version; scoring reads only this

A version folder is complete or absent (written beside, then renamed). The champion changes only
through `promote`, after the champion/challenger gate (`choose`) decided.
"""

import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from upath import UPath

from shopinsight_pipeline.files import (
    MANIFEST,
    fetch_folder,
    folders_holding,
    is_local,
    publish_copy,
    read_json,
    write_bytes_atomic,
    write_json_atomic,
)
from shopinsight_pipeline.ml.significance import DEFAULT_ROUNDS, macro_f1, paired_bootstrap

CHAMPION_FILE = "champion.json"


@dataclass(frozen=True)
class Candidate:
    """A scorer trained by this run: chosen on validation, compared with the champion on test."""

    version: str
    kind: str
    validation_predicted: np.ndarray  # class index per validation text
    test_predicted: np.ndarray  # class index per test text


@dataclass(frozen=True)
class Champion:
    """The serving scorer, re-scored on today's test split, or why it could not be."""

    version: str
    kind: str
    test_predicted: np.ndarray | None
    unavailable: str | None = None


@dataclass(frozen=True)
class Decision:
    """What the champion/challenger gate decided and why, in words an operator can read."""

    challenger: str  # version the new training run puts forward
    promoted: str | None  # version that serves after this run (None: keep the current champion)
    passed: bool  # False only when the challenger is significantly worse than the champion
    reason: str
    evidence: dict = field(default_factory=dict)  # the paired comparison, for metadata and champion.json


def pick_challenger(
    candidates: list[Candidate], validation_labels: list[int], confidence: float, rounds: int, seed: int
) -> tuple[Candidate, str]:
    """The simplest candidate, unless a more complex one (later in the list) is better on validation
    beyond the noise: its paired bootstrap interval over the validation texts lies above zero.
    Choosing on validation keeps the test split unbiased for the champion comparison."""
    challenger, steps = candidates[0], []
    for candidate in candidates[1:]:
        paired = paired_bootstrap(
            validation_labels, candidate.validation_predicted, challenger.validation_predicted, confidence, rounds, seed
        )
        verdict = "better, takes over" if paired.significantly_better else "not better beyond the noise"
        steps.append(
            f"{candidate.kind} vs {challenger.kind} on validation {paired.difference:+.4f} "
            f"[{paired.low:+.4f}, {paired.high:+.4f}]: {verdict}"
        )
        if paired.significantly_better:
            challenger = candidate
    f1 = macro_f1(validation_labels, challenger.validation_predicted)
    why = f"challenger {challenger.kind} {challenger.version} (validation macro-F1 {f1:.4f}; {'; '.join(steps)})"
    return challenger, why


def choose(
    candidates: list[Candidate],
    champion: Champion | None,
    validation_labels: list[int],
    test_labels: list[int],
    confidence: float = 0.95,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
) -> Decision:
    """Pick the challenger on validation (`pick_challenger`, candidates simplest first). It replaces
    the champion only when the paired bootstrap interval of (challenger - champion) test macro-F1
    lies above zero, or when the champion cannot be re-scored on today's test split."""
    challenger, why = pick_challenger(candidates, validation_labels, confidence, rounds, seed)
    test_f1 = macro_f1(test_labels, challenger.test_predicted)
    evidence: dict = {"challenger": challenger.version, "challenger_test_macro_f1": test_f1}
    if champion is None:
        return Decision(challenger.version, challenger.version, True, f"{why}; no champion yet: promoted", evidence)
    evidence["champion"] = champion.version
    if champion.version == challenger.version:
        return Decision(challenger.version, None, True, f"{why}; it is already the champion", evidence)
    if champion.test_predicted is None:
        return Decision(
            challenger.version,
            challenger.version,
            True,
            f"{why}; champion {champion.version} cannot be compared on today's test split "
            f"({champion.unavailable}): promoted",
            {**evidence, "champion_unavailable": champion.unavailable},
        )
    comparison = paired_bootstrap(
        test_labels, challenger.test_predicted, champion.test_predicted, confidence, rounds, seed
    )
    evidence |= {"champion_test_macro_f1": macro_f1(test_labels, champion.test_predicted), **comparison.as_dict()}
    measured = (
        f"test macro-F1 {test_f1:.4f} vs champion {champion.version} {evidence['champion_test_macro_f1']:.4f}: "
        f"difference {comparison.difference:+.4f}, {confidence:.0%} interval [{comparison.low:+.4f}, "
        f"{comparison.high:+.4f}] over {comparison.examples} paired test texts (smallest difference this "
        f"split detects: about {comparison.minimum_detectable:.4f})"
    )
    if comparison.significantly_better:
        return Decision(challenger.version, challenger.version, True, f"{why}; {measured}: better, promoted", evidence)
    if comparison.significantly_worse:
        return Decision(challenger.version, None, False, f"{why}; {measured}: worse, champion kept", evidence)
    return Decision(
        challenger.version, None, True, f"{why}; {measured}: not better beyond the noise, champion kept", evidence
    )


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def versions_path(self) -> Path:
        return self.root / "versions"

    def version_path(self, version: str) -> Path:
        return self.versions_path / version

    def new_version(self, kind: str, fingerprint: str) -> str:
        """A name no version of this registry has: time, kind and job; a second version of the same
        kind and job within the same second gets a suffix, so publishing it never replaces the first
        (which the champion pointer may name)."""
        base = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{kind}-{fingerprint[:8]}"
        version, number = base, 1
        while self.version_path(version).exists():
            number += 1
            version = f"{base}-{number}"
        return version

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
        """The champion pointer. `version` is the evaluated version the gate compares with;
        `served_version` is what scores reviews: its refit on every label of the window
        (`refit_version`, ml/refit.py) when there is one, else the evaluated version itself; `path`
        is the served version's folder in this registry (a registry copied to another machine's cache
        still points at its own copy)."""
        path = self.root / CHAMPION_FILE
        if not path.exists():
            return None
        pointer = read_json(path, "champion pointer")
        served = pointer.get("refit_version") or pointer["version"]
        return {**pointer, "served_version": served, "path": str(self.version_path(served))}

    def serve_refit(self, version: str | None) -> dict:
        """Point the champion's `refit_version` at `version` (None: the evaluated version serves)."""
        pointer = read_json(self.root / CHAMPION_FILE, "champion pointer")
        pointer = {key: value for key, value in pointer.items() if key != "refit_version"}
        if version is not None:
            pointer["refit_version"] = version
        write_json_atomic(pointer, self.root / CHAMPION_FILE)
        return self.require_champion()

    def pull(self, store: UPath, versions: list[str] | None = None) -> None:
        """Copy a registry published on an object store (its champion pointer, and the named
        versions or all of them) into this local one; versions already copied are not fetched
        again. Nothing to do when `store` is this registry's own folder on a POSIX filesystem."""
        if is_local(store):
            return
        pointer = store / CHAMPION_FILE
        if pointer.exists():
            write_bytes_atomic(pointer.read_bytes(), self.root / CHAMPION_FILE)
        published = store / "versions"
        if versions is None:
            versions = folders_holding(published, MANIFEST)
        for version in versions:
            fetch_folder(published / version, self.version_path(version))

    def pull_champion(self, store: UPath) -> None:
        """The pointer and the versions scoring needs: the champion and, for an ensemble, its parts."""
        if is_local(store):
            return
        self.pull(store, versions=[])
        pointer = self.champion()
        if pointer is None:
            return
        for version in dict.fromkeys([pointer["version"], pointer["served_version"]]):
            self.pull(store, versions=[version])
            candidate = self.version_path(version) / "candidate.json"  # scorers.CANDIDATE_FILE (torch-free here)
            parts = read_json(candidate, "candidate file").get("parts", [])
            self.pull(store, versions=[part["version"] for part in parts])

    def push(self, store: UPath) -> None:
        """Publish this registry's versions that the object store lacks (or holds with other
        content), then its champion pointer: versions first, so the store's pointer never names a
        version the store does not have."""
        if is_local(store):
            return
        for version in sorted(self.versions_path.glob("*")) if self.versions_path.exists() else []:
            if version.name.startswith(".") or not version.is_dir():
                continue  # a staging folder
            publish_copy(version, store / "versions" / version.name)
        if (self.root / CHAMPION_FILE).is_file():
            write_bytes_atomic((self.root / CHAMPION_FILE).read_bytes(), store / CHAMPION_FILE)

    def require_champion(self) -> dict:
        champion = self.champion()
        if champion is None:
            raise FileNotFoundError(
                f"no promoted sentiment model: {self.root / CHAMPION_FILE} does not exist. "
                "Materialize sentiment_model first (it trains, evaluates and promotes a scorer)."
            )
        for version in dict.fromkeys([champion["version"], champion["served_version"]]):
            if not self.version_path(version).is_dir():
                raise FileNotFoundError(
                    f"champion pointer names version {version} but {self.version_path(version)} is missing"
                )
        return champion

    def gate(
        self,
        candidates: list[Candidate],
        champion: Champion | None,
        validation_labels: list[int],
        test_labels: list[int],
        confidence: float = 0.95,
        rounds: int = DEFAULT_ROUNDS,
    ) -> Decision:
        """The champion/challenger gate: `choose`, then point the champion at the winner when the
        decision promotes one. The champion keeps serving otherwise."""
        decision = choose(candidates, champion, validation_labels, test_labels, confidence, rounds)
        if decision.promoted:
            promoted = next(candidate for candidate in candidates if candidate.version == decision.promoted)
            test_f1 = decision.evidence["challenger_test_macro_f1"]
            self.promote(promoted.version, promoted.kind, test_f1, decision.reason, decision.evidence)
        return decision

    def promote(
        self, version: str, kind: str, test_macro_f1: float | None, reason: str, evidence: dict | None = None
    ) -> dict:
        pointer = {
            "version": version,
            "kind": kind,
            "test_macro_f1": test_macro_f1,
            "reason": reason,
            "evidence": evidence or {},
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "path": str(self.version_path(version)),
        }
        write_json_atomic(pointer, self.root / CHAMPION_FILE)
        return pointer
