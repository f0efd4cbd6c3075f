"""Training checkpoints kept beyond the training machine (ml.checkpoints), against fsspec's
in-memory filesystem: an object store as far as the publishing code can tell (no renames), without
a server. The same code against a real S3 server: test_deploy_object_store."""

import uuid

import pytest
from upath import UPath

from shopinsight_pipeline.files import MANIFEST
from shopinsight_pipeline.ml.checkpoints import CheckpointMirror
from shopinsight_pipeline.ml.train import BEST_WEIGHTS, COMPLETE, TrainSettings, latest_checkpoint
from shopinsight_pipeline_tests.ml.test_ml_train import NO_BUDGET, run, tiny


@pytest.fixture
def store() -> UPath:
    return UPath(f"memory://checkpoints-{uuid.uuid4().hex[:8]}/job")


def checkpoint(local, step: int, content: bytes, complete: bool = True):
    folder = local / f"step_{step:07d}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(content)
    if complete:
        (folder / COMPLETE).touch()
    return folder


def test_each_checkpoint_is_published_with_the_best_weights_and_replaces_the_earlier_one(tmp_path, store):
    machine_a = CheckpointMirror(tmp_path / "a", store)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / BEST_WEIGHTS).write_bytes(b"best at 5")
    machine_a.push(checkpoint(tmp_path / "a", 6, b"weights 6"))
    assert machine_a.committed_steps() == ["step_0000006"]
    (tmp_path / "a" / BEST_WEIGHTS).write_bytes(b"best at 10")
    machine_a.push(checkpoint(tmp_path / "a", 12, b"weights 12"))
    assert [path.name for path in store.iterdir()] == ["step_0000012"]  # the earlier step is gone
    assert (store / "step_0000012" / BEST_WEIGHTS).read_bytes() == b"best at 10"
    assert (store / "step_0000012" / "model.safetensors").read_bytes() == b"weights 12"

    with pytest.raises(ValueError, match="not a complete checkpoint"):
        machine_a.push(checkpoint(tmp_path / "a", 18, b"half saved", complete=False))


def test_another_machine_pulls_the_furthest_committed_step_and_a_publish_cut_short_is_ignored(tmp_path, store):
    machine_a = CheckpointMirror(tmp_path / "a", store)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / BEST_WEIGHTS).write_bytes(b"best at 5")
    machine_a.push(checkpoint(tmp_path / "a", 6, b"weights 6"))
    # a later step whose upload was cut short before its marker
    (store / "step_0000012").mkdir(parents=True, exist_ok=True)
    (store / "step_0000012" / "model.safetensors").write_bytes(b"half uploaded")
    assert not (store / "step_0000012" / MANIFEST).exists()

    machine_b = CheckpointMirror(tmp_path / "b", store)
    assert machine_b.pull() == "step_0000006"
    assert latest_checkpoint(tmp_path / "b").name == "step_0000006"
    assert (tmp_path / "b" / "step_0000006" / "model.safetensors").read_bytes() == b"weights 6"
    assert (tmp_path / "b" / BEST_WEIGHTS).read_bytes() == b"best at 5"  # where training looks for it
    assert machine_b.pull() is None  # already as far as the store

    checkpoint(tmp_path / "c", 18, b"weights 18")  # a machine further than the store keeps its own
    assert CheckpointMirror(tmp_path / "c", store).pull() is None
    assert latest_checkpoint(tmp_path / "c").name == "step_0000018"

    machine_b.discard()
    assert not store.exists() and not (tmp_path / "b").exists()


def test_a_posix_lake_keeps_checkpoints_where_they_are(tmp_path):
    local = CheckpointMirror(tmp_path / "job")
    step = checkpoint(tmp_path / "job", 6, b"weights 6")
    local.push(step)
    assert local.pull() is None and local.remote_url is None
    assert CheckpointMirror.from_url(tmp_path / "job", None) == local


def test_training_killed_on_one_machine_resumes_on_another_from_the_store(tiny_model_dir, tmp_path, store):
    settings = TrainSettings(
        learning_rate=3e-3, batch_size=16, max_epochs=2, eval_every_steps=10, checkpoint_every_steps=6, **NO_BUDGET
    )
    machine_a = CheckpointMirror(tmp_path / "a", store)

    def kill_at_step_15(step: int) -> None:
        if step == 15:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        run(tiny(tiny_model_dir), settings, machine_a.local, on_step=kill_at_step_15, on_checkpoint=machine_a.push)
    assert machine_a.committed_steps() == ["step_0000012"]

    machine_b = CheckpointMirror.from_url(tmp_path / "b", machine_a.remote_url)  # as a training rank rebuilds it
    assert machine_b.pull() == "step_0000012"
    steps_taken: list[int] = []
    resumed = run(tiny(tiny_model_dir), settings, machine_b.local, on_step=steps_taken.append)
    assert resumed.resumed_from_step == 12
    assert steps_taken[0] == 13 and resumed.steps == 40
    assert [record["step"] for record in resumed.history] == [10, 20, 30, 40]  # step 10 came with the checkpoint
