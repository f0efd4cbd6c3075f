"""Training on several devices: `accelerate launch` as a Dagster Pipes subprocess. One device trains
in the step's own process (`ml.fit.InProcessTrainer`)."""

import dataclasses
import shutil
import sys
import uuid
from pathlib import Path

import torch
from dagster import AssetExecutionContext, PipesSubprocessClient

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.fit import InProcessTrainer, Trainer
from shopinsight_pipeline.ml.launch import MODEL_FOLDER, read_outcome, write_job
from shopinsight_pipeline.ml.train import resolve_precision


class PipesTrainer:
    """Several devices: run `accelerate launch -m shopinsight_pipeline.ml.launch` through Dagster Pipes."""

    def __init__(
        self, context: AssetExecutionContext, client: PipesSubprocessClient, processes: int, cpu: bool, work: Path
    ):
        self.context, self.client, self.processes, self.cpu, self.work = context, client, processes, cpu, work

    def __call__(self, model_dir, train, validation, labels, pad_token_id, settings, checkpoints, log, on_step):
        job_dir = self.work / uuid.uuid4().hex
        # `accelerate launch --cpu` starts a single process; --multi_gpu starts torchrun workers, and the
        # Accelerator inside each makes them CPU workers (gloo) when the settings say cpu.
        settings = dataclasses.replace(settings, cpu=settings.cpu or self.cpu)
        write_job(job_dir, model_dir, train, validation, labels, pad_token_id, settings, checkpoints)
        launcher = Path(sys.executable).parent / "accelerate"
        command = [str(launcher), "launch", "--multi_gpu", "--num_processes", str(self.processes)]
        command += ["--num_machines", "1", "--dynamo_backend", "no"]
        command += ["--mixed_precision", "no" if settings.cpu else resolve_precision(settings)]
        command += ["-m", "shopinsight_pipeline.ml.launch", str(job_dir)]
        log(f"training on {self.processes} processes: {' '.join(command)}")
        try:
            self.client.run(context=self.context, command=command)
            return model_io.load_model(job_dir / MODEL_FOLDER), read_outcome(job_dir)
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)


def choose_trainer(
    context: AssetExecutionContext, processes: int, force_cpu: bool, client: PipesSubprocessClient, work: Path
) -> Trainer:
    """In this process on one device; through Pipes on several."""
    if processes <= 1:
        return InProcessTrainer()
    cpu = force_cpu or not torch.cuda.is_available()
    return PipesTrainer(context, client, processes, cpu, work)
