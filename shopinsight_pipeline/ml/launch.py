"""Multi-process training: what `accelerate launch` runs when sentiment_model asks for several devices.

    accelerate launch --num_processes N [--cpu] -m shopinsight_pipeline.ml.launch JOB_DIR

JOB_DIR holds job.json (model folder, labels, settings, checkpoint folder and store) and the tokenized
train/validation sets as Parquet (written by `write_job`). Rank 0 talks to Dagster through Pipes
(logs, errors) and saves the trained model and outcome to JOB_DIR; every rank trains.
"""

import json
import sys
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import polars as pl

from shopinsight_pipeline.ml.checkpoints import CheckpointMirror
from shopinsight_pipeline.ml.train import TokenizedSet, TrainOutcome, TrainSettings

MODEL_FOLDER = "model"
OUTCOME_FILE = "outcome.json"


def write_set(path: Path, data: TokenizedSet) -> None:
    pl.DataFrame({"input_ids": pl.Series(data.input_ids, dtype=pl.List(pl.Int32)), "label": data.labels}).write_parquet(
        path
    )


def read_set(path: Path) -> TokenizedSet:
    frame = pl.read_parquet(path)
    return TokenizedSet(frame.get_column("input_ids").to_list(), frame.get_column("label").to_list())


def write_job(
    job_dir: Path,
    model_dir: Path,
    train: TokenizedSet,
    validation: TokenizedSet,
    labels: list[str],
    pad_token_id: int,
    settings: TrainSettings,
    checkpoints: CheckpointMirror,
) -> None:
    job_dir.mkdir(parents=True, exist_ok=True)
    write_set(job_dir / "train.parquet", train)
    write_set(job_dir / "validation.parquet", validation)
    spec = {
        "model_dir": str(model_dir),
        "labels": labels,
        "pad_token_id": pad_token_id,
        "settings": asdict(settings),
        "checkpoint_dir": str(checkpoints.local),
        "checkpoint_store": checkpoints.remote_url,
    }
    (job_dir / "job.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")


def read_outcome(job_dir: Path) -> TrainOutcome:
    path = job_dir / OUTCOME_FILE
    if not path.is_file():
        raise RuntimeError(f"multi-process training ended without writing {path}; see the run's logs")
    return TrainOutcome(**json.loads(path.read_text(encoding="utf-8")))


def main(job_dir: Path) -> None:
    from accelerate import PartialState
    from dagster_pipes import open_dagster_pipes

    from shopinsight_pipeline.ml import model_io
    from shopinsight_pipeline.ml.train import train_classifier

    spec = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    labels = spec["labels"]
    settings = TrainSettings(**spec["settings"])
    state = PartialState(cpu=settings.cpu)  # the first state decides: cpu=True makes torchrun workers gloo CPU ranks
    with open_dagster_pipes() if state.is_main_process else nullcontext() as pipes:
        log = pipes.log.info if pipes is not None else (lambda _message: None)
        log(f"rank {state.process_index} of {state.num_processes} on {state.device}")
        model = model_io.load_model(Path(spec["model_dir"]), num_labels=len(labels), id2label=dict(enumerate(labels)))
        checkpoints = CheckpointMirror.from_url(Path(spec["checkpoint_dir"]), spec["checkpoint_store"])
        outcome = train_classifier(
            model,
            read_set(job_dir / "train.parquet"),
            read_set(job_dir / "validation.parquet"),
            labels,
            spec["pad_token_id"],
            settings,
            checkpoints.local,
            log,
            on_checkpoint=checkpoints.push,  # called on the main process only
        )
        if state.is_main_process:
            model.save_pretrained(str(job_dir / MODEL_FOLDER), safe_serialization=True)
            model_io.load_tokenizer(Path(spec["model_dir"])).save_pretrained(str(job_dir / MODEL_FOLDER))
            (job_dir / OUTCOME_FILE).write_text(json.dumps(asdict(outcome)), encoding="utf-8")
            log(f"trained {outcome.steps} steps on {outcome.num_processes} processes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
