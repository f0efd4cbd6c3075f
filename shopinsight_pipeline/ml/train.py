"""Fine-tuning loop on Accelerate: one function, all device logic in the Accelerator.

Length-grouped batches with dynamic padding, AdamW with weight-decay groups, warmup then linear
decay, gradient clipping, evaluation on validation macro-F1 with early stopping, and checkpoints
with `save_state` so that an interrupted run resumes at the step it reached.
"""

import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from shopinsight_pipeline.ml.batching import Collator, LengthGroupedBatches
from shopinsight_pipeline.ml.inference import mean_loss, predict_proba
from shopinsight_pipeline.ml.metrics import classification_report
from shopinsight_pipeline.ml.settings import TrainSettings

BEST_WEIGHTS = "best.safetensors"
COMPLETE = "COMPLETE"  # written last into a checkpoint folder: the save finished


@dataclass
class TokenizedSet:
    input_ids: list[list[int]]
    labels: list[int]

    def __post_init__(self) -> None:
        if len(self.input_ids) != len(self.labels):
            raise ValueError(f"{len(self.input_ids)} sequences but {len(self.labels)} labels")


@dataclass
class Progress:
    """Training position and early-stopping state; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_macro_f1: float = -1.0
    best_step: int = 0
    evaluations_without_gain: int = 0
    history: list[dict] = field(default_factory=list)

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)


@dataclass
class TrainOutcome:
    steps: int
    best_step: int
    best_validation_macro_f1: float
    stopped_early: bool
    resumed_from_step: int
    examples_per_second: float
    train_seconds: float
    device: str
    mixed_precision: str
    num_processes: int
    history: list[dict]


def resolve_precision(settings: TrainSettings) -> str:
    if settings.mixed_precision != "auto":
        return settings.mixed_precision
    if not settings.cpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "no"


def parameter_groups(model: torch.nn.Module, weight_decay: float, embedding_learning_rate: float = 0.0) -> list[dict]:
    """Decay weights of linear layers; never biases or LayerNorm parameters. With an
    `embedding_learning_rate`, the input embeddings get their own group at that rate (and no decay):
    rows added for new characters start near the mean and must travel further than the rest."""
    embeddings = model.get_input_embeddings().weight if embedding_learning_rate else None  # type: ignore[operator]
    decayed: list[torch.nn.Parameter] = []
    undecayed: list[torch.nn.Parameter] = []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad or parameter is embeddings:
            continue
        exempt = name.endswith("bias") or "norm" in name.lower()
        (undecayed if exempt else decayed).append(parameter)
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": undecayed, "weight_decay": 0.0}]
    if embeddings is not None:
        groups.append({"params": [embeddings], "weight_decay": 0.0, "lr": embedding_learning_rate})
    return groups


def class_weights(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    """n / (k * count) per class ("balanced"); a class absent from training gets weight 0."""
    counts = torch.bincount(torch.as_tensor(list(labels), dtype=torch.long), minlength=num_classes).float()
    present = counts > 0
    weights = torch.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    steps = sorted(checkpoint_dir.glob("step_*")) if checkpoint_dir.is_dir() else []
    complete = [path for path in steps if (path / COMPLETE).exists()]
    return complete[-1] if complete else None


def train_classifier(
    model: torch.nn.Module,
    train: TokenizedSet,
    validation: TokenizedSet,
    labels: Sequence[str],
    pad_token_id: int,
    settings: TrainSettings,
    checkpoint_dir: Path,
    log: Callable[[str], None] = print,
    on_step: Callable[[int], None] | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> TrainOutcome:
    """Fine-tune `model` in place; on return it holds the weights of the best validation macro-F1.

    `checkpoint_dir` is specific to this training job: if it holds a complete checkpoint, training
    resumes from it. `on_step` is called after every optimizer step (tests use it to interrupt);
    `on_checkpoint` with each complete checkpoint's folder, on the main process (to copy it off the
    machine: ml.checkpoints).
    """
    if not train.labels or not validation.labels:
        raise ValueError(f"need training and validation examples, got {len(train.labels)} and {len(validation.labels)}")
    precision = resolve_precision(settings)
    accelerator = Accelerator(mixed_precision=precision, cpu=settings.cpu)
    set_seed(settings.seed)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)

    sampler = LengthGroupedBatches([len(ids) for ids in train.input_ids], settings.batch_size, settings.seed)
    examples: list[tuple[list[int], int]] = list(zip(train.input_ids, train.labels, strict=True))
    loader: DataLoader = DataLoader(
        examples,  # type: ignore[arg-type]  # a list is a map-style dataset
        batch_sampler=sampler,
        collate_fn=Collator(pad_token_id),
    )
    optimizer = torch.optim.AdamW(
        parameter_groups(model, settings.weight_decay, settings.embedding_learning_rate), lr=settings.learning_rate
    )
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * settings.max_epochs
    if settings.max_steps:
        total_steps = min(total_steps, settings.max_steps)
    if settings.cpu_max_steps and accelerator.device.type == "cpu" and total_steps > settings.cpu_max_steps:
        log(
            f"CPU budget: {settings.cpu_max_steps} of {total_steps} steps "
            f"({settings.cpu_max_steps / steps_per_epoch:.2f} epochs); the schedule decays within it"
        )
        total_steps = settings.cpu_max_steps
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(total_steps * settings.warmup_ratio), total_steps)
    scheduler = accelerator.prepare(scheduler)
    progress = Progress()
    accelerator.register_for_checkpointing(progress)
    weights = class_weights(train.labels, len(labels)).to(accelerator.device) if settings.balanced_loss else None

    resume_from = latest_checkpoint(checkpoint_dir)
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        log(f"resuming from {resume_from} (step {progress.step} of {total_steps})")
    resumed_from_step = progress.step
    unwrapped = accelerator.unwrap_model(model)
    if (checkpoint_dir / BEST_WEIGHTS).exists() and resumed_from_step:
        best_state = load_file(str(checkpoint_dir / BEST_WEIGHTS))
    else:
        best_state = None

    def evaluate() -> None:
        probabilities = predict_proba(unwrapped, validation.input_ids, pad_token_id, settings.eval_batch_size)
        report = classification_report(validation.labels, probabilities, labels)
        record = {
            "step": progress.step,
            "validation_loss": mean_loss(probabilities, validation.labels),
            "validation_macro_f1": report["macro_f1"],
            "learning_rate": scheduler.get_last_lr()[0],
        }
        progress.history.append(record)
        nonlocal best_state
        if report["macro_f1"] > progress.best_macro_f1:
            progress.best_macro_f1, progress.best_step, progress.evaluations_without_gain = (
                report["macro_f1"],
                progress.step,
                0,
            )
            best_state = {
                name: tensor.detach().cpu().clone().contiguous() for name, tensor in unwrapped.state_dict().items()
            }
            if accelerator.is_main_process:
                save_file(best_state, str(checkpoint_dir / BEST_WEIGHTS))
        else:
            progress.evaluations_without_gain += 1
        log(
            f"step {progress.step}/{total_steps}: validation loss {record['validation_loss']:.4f}, "
            f"macro-F1 {report['macro_f1']:.4f} (best {progress.best_macro_f1:.4f} at step {progress.best_step})"
        )

    def checkpoint() -> None:
        target = checkpoint_dir / f"step_{progress.step:07d}"
        accelerator.save_state(str(target), safe_serialization=True)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            (target / COMPLETE).touch()
            for older in sorted(checkpoint_dir.glob("step_*"))[:-1]:
                shutil.rmtree(older, ignore_errors=True)
            if on_checkpoint is not None:
                on_checkpoint(target)

    bar = tqdm(total=total_steps, initial=progress.step, desc="training", disable=not accelerator.is_local_main_process)
    trained_examples, train_seconds, stopped_early = 0, 0.0, False
    model.train()
    while progress.step < total_steps and not stopped_early:
        sampler.set_epoch(progress.epoch)
        batches = accelerator.skip_first_batches(loader, progress.batch_in_epoch) if progress.batch_in_epoch else loader
        started = time.perf_counter()
        for batch in batches:
            targets = batch.pop("labels")
            logits = model(**batch).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), targets, weight=weights)
            accelerator.backward(loss)
            if accelerator.sync_gradients and settings.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            progress.step += 1
            progress.batch_in_epoch += 1
            trained_examples += targets.shape[0] * accelerator.num_processes
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
            last = progress.step >= total_steps
            if progress.step % settings.eval_every_steps == 0 or last:
                train_seconds += time.perf_counter() - started
                evaluate()
                started = time.perf_counter()
                stopped_early = progress.evaluations_without_gain >= settings.patience
            if progress.step % settings.checkpoint_every_steps == 0 and not last and not stopped_early:
                checkpoint()
            if on_step is not None:
                on_step(progress.step)
            if last or stopped_early:
                break
        else:
            progress.epoch += 1
            progress.batch_in_epoch = 0
        train_seconds += time.perf_counter() - started
    bar.close()

    if best_state is not None:
        unwrapped.load_state_dict(best_state)
    accelerator.wait_for_everyone()
    if stopped_early:
        log(f"early stop at step {progress.step}: no better validation macro-F1 in {settings.patience} evaluations")
    return TrainOutcome(
        steps=progress.step,
        best_step=progress.best_step,
        best_validation_macro_f1=progress.best_macro_f1,
        stopped_early=stopped_early,
        resumed_from_step=resumed_from_step,
        examples_per_second=trained_examples / train_seconds if train_seconds else 0.0,
        train_seconds=train_seconds,
        device=str(accelerator.device),
        mixed_precision=precision,
        num_processes=accelerator.num_processes,
        history=list(progress.history),
    )
