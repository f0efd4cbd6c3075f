"""Serve the champion refit on every label of the window (issue 29).

The gate chooses on a 70/10/20 split, so the version it evaluated never learned from a fifth of
the shop's labelled texts. After the gate, the serving version's recipe (same kind, settings and
tokenizer; for the transformer the number of steps its split run was selected at; for the ensemble
both parts and the chosen weight) is fitted again on every labelled distinct text of the window
and registered as its own version naming the version it was refit from (`refit_of`). The champion
pointer keeps `version`: the evaluated split version, which the next run's gate re-scores on its
new test split (the refit has seen those texts, so comparing it would flatter it); `refit_version`
is what scores reviews. The refit has no honest numbers of its own: its card quotes the split
version's and says why. A refit that fails for any reason leaves the split version serving.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import polars as pl

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.baseline import TfidfClassifier
from shopinsight_pipeline.ml.checkpoints import CheckpointMirror
from shopinsight_pipeline.ml.fit import TokenizerInfo, Trainer, fingerprint, write_candidate_file
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.ml.scorers import CANDIDATE_FILE, ENSEMBLE, TFIDF, TRANSFORMER, read_candidate
from shopinsight_pipeline.ml.settings import TfidfSettings, TrainSettings
from shopinsight_pipeline.ml.text import LabelScheme, SplitFractions, assign_splits


@dataclass(frozen=True)
class RefitOutcome:
    refit_of: str  # the evaluated (split) version
    version: str | None  # the refit that serves; None: none (failed, or turned off)
    texts: int  # labelled distinct texts the refit learned from
    split_train_texts: int  # ... and how many the split version learned from
    seconds: float
    reused: bool = False  # a refit of this version on this window existed already
    failed: str | None = None  # why the split version serves instead


@dataclass(frozen=True)
class RefitData:
    texts: list[str]
    labels: list[int]
    input_ids: list[list[int]]
    validation_ids: list[list[int]]  # the split's validation texts (inside the refit's data now)
    validation_labels: list[int]
    frame: pl.DataFrame  # text_key and label of every text, for the job's fingerprint


def refit_data(examples: pl.DataFrame, fractions: SplitFractions) -> RefitData:
    """Every labelled distinct text of the window: the three splits of the gate's split together,
    deduplicated the same way (one row per distinct text and label; conflicting texts left out of
    evaluation only, so kept here as training keeps them)."""
    splits, _ = assign_splits(examples, fractions)
    everything = pl.concat([splits["train"], splits["validation"], splits["test"]]).unique(
        ["text_key", "label"], keep="first", maintain_order=True
    )
    validation = splits["validation"]
    return RefitData(
        everything.get_column("review_text").to_list(),
        everything.get_column("label").to_list(),
        everything.get_column("input_ids").to_list(),
        validation.get_column("input_ids").to_list(),
        validation.get_column("label").to_list(),
        everything.select("text_key", "label"),
    )


def refit_champion(
    registry: ModelRegistry,
    examples: pl.DataFrame,
    tokenizer: TokenizerInfo,
    scheme: LabelScheme,
    fractions: SplitFractions,
    trainer: Trainer,
    checkpoint_root: Path,
    log: Callable[[str], None] = print,
) -> RefitOutcome:
    """Refit the champion's recipe on all of `examples`' labelled distinct texts and point the
    champion's `refit_version` at it; on any failure the pointer is left without one (the split
    version serves) and the outcome says why."""
    pointer = registry.require_champion()
    evaluated = pointer["version"]
    started = time.perf_counter()
    data = refit_data(examples, fractions)
    split_train = int(read_candidate(registry.version_path(evaluated)).get("split_sizes", {}).get("train", 0))
    try:
        version, reused = _refit(registry, evaluated, data, tokenizer, scheme, trainer, checkpoint_root, log)
    except Exception as error:  # whatever stops the refit (memory, a killed worker), the split version serves
        registry.serve_refit(None)
        why = f"{type(error).__name__}: {error}"
        log(f"refit of {evaluated} failed ({why}): the split version {evaluated} serves")
        return RefitOutcome(evaluated, None, len(data.texts), split_train, time.perf_counter() - started, failed=why)
    registry.serve_refit(version)
    log(f"{version} (refit of {evaluated} on {len(data.texts)} labelled distinct texts) serves")
    return RefitOutcome(evaluated, version, len(data.texts), split_train, time.perf_counter() - started, reused)


def _refit(
    registry: ModelRegistry,
    evaluated: str,
    data: RefitData,
    tokenizer: TokenizerInfo,
    scheme: LabelScheme,
    trainer: Trainer,
    checkpoint_root: Path,
    log: Callable[[str], None],
) -> tuple[str, bool]:
    """The refit version of `evaluated` on `data` (an existing one when this exact refit was made)."""
    source = read_candidate(registry.version_path(evaluated))
    kind = source["kind"]
    job = fingerprint(data.frame, tokenizer, TrainSettings(), scheme) + f"-{evaluated}"
    existing = _existing_refit(registry, evaluated, job)
    if existing is not None:
        return existing, True
    if kind not in (ENSEMBLE, TFIDF, TRANSFORMER):
        raise ValueError(f"{evaluated}: cannot refit a scorer of kind {kind!r}")
    payload: dict = {}
    if kind == ENSEMBLE:  # both parts refit, the weight chosen on validation kept
        parts = []
        for part in source["parts"]:
            part_version, _ = _refit(registry, part["version"], data, tokenizer, scheme, trainer, checkpoint_root, log)
            parts.append({**part, "version": part_version})
        payload = {"parts": parts}
    staging = registry.staging_path()
    if kind == TFIDF:
        settings = TfidfSettings(**source["training"])
        TfidfClassifier.fit(data.texts, data.labels, len(source["labels"]), settings).save(staging)
    elif kind == TRANSFORMER:
        payload = _refit_transformer(source, data, tokenizer, trainer, checkpoint_root / job, staging, log)
    version = registry.new_version(f"{kind}-refit", job)
    counts = {label: data.labels.count(index) for index, label in enumerate(source["labels"])}
    payload = {
        **{key: value for key, value in source.items() if key not in ("version", "parts", "history")},
        **payload,
        "version": version,
        "refit_of": evaluated,
        "refit_job": job,
        "refit_examples": {"texts": len(data.texts), "by_label": counts},
    }
    write_candidate_file(staging, payload)
    (staging / "MODEL_CARD.md").write_text(refit_card(version, evaluated, payload), encoding="utf-8")
    registry.publish(staging, version)
    return version, False


def _refit_transformer(
    source: dict,
    data: RefitData,
    tokenizer: TokenizerInfo,
    trainer: Trainer,
    checkpoints: Path,
    staging: Path,
    log: Callable[[str], None],
) -> dict:
    """The split run's settings, trained for the steps it was selected at (its best step), with no
    selection of its own: the one evaluation comes at the last step, on texts it has learned from.
    Writes the model and tokenizer into `staging`; returns the candidate file's training record."""
    from shopinsight_pipeline.ml.train import TokenizedSet

    training = source["training"]
    steps = int(training.get("best_step") or training["steps"])
    recipe = TrainSettings(**{f.name: training[f.name] for f in fields(TrainSettings) if f.name in training})
    recipe = replace(
        recipe, max_steps=steps, cpu_max_steps=0, eval_every_steps=steps, checkpoint_every_steps=steps, patience=steps
    )
    base = model_io.load_tokenizer(tokenizer.directory)
    mirror = CheckpointMirror(checkpoints)
    model, outcome = trainer(
        tokenizer.directory,
        TokenizedSet(data.input_ids, data.labels),
        TokenizedSet(data.validation_ids, data.validation_labels),
        list(source["labels"]),
        base.pad_token_id,
        recipe,
        mirror,
        log,
        None,
    )
    model.save_pretrained(str(staging), safe_serialization=True)
    base.save_pretrained(str(staging))
    mirror.discard()
    trained = {k: v for k, v in asdict(outcome).items() if k != "history"}
    return {"training": {**asdict(recipe), **trained}}


def _existing_refit(registry: ModelRegistry, evaluated: str, job: str) -> str | None:
    if not registry.versions_path.is_dir():
        return None
    for directory in sorted(registry.versions_path.iterdir(), reverse=True):
        if directory.name.startswith(".") or not (directory / CANDIDATE_FILE).is_file():
            continue
        payload = read_candidate(directory)
        if payload.get("refit_of") == evaluated and payload.get("refit_job") == job:
            return directory.name
    return None


def refit_card(version: str, evaluated: str, payload: dict) -> str:
    test = payload["metrics"]["test"]
    low, high = test["macro_f1_ci95"]
    return (
        f"# Sentiment scorer {version}\n\n"
        f"Kind: {payload['kind']}, refit of **{evaluated}** on every labelled distinct text of its training window "
        f"({payload['refit_examples']['texts']} texts: {payload['refit_examples']['by_label']}), with the same "
        "recipe (settings, tokenizer; for a transformer the number of steps the split run was selected at).\n\n"
        f"Its numbers are those of {evaluated}, which learned from the {payload['split_sizes']['train']}-text "
        f"training split only: test macro-F1 {test['macro_f1']:.4f} (95% interval {low:.4f}-{high:.4f}), accuracy "
        f"{test['accuracy']:.4f}. This refit has seen those test texts, so it has no held-out numbers of its own; "
        "refitting the chosen recipe on all the data is expected to be as good or better (bench/RESULTS.md measures "
        "it on outside reviews). The next run's gate compares its challenger with "
        f"{evaluated}, never with this refit.\n"
    )
