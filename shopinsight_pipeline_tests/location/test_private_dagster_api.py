"""The private Dagster APIs devtools/location_runs.py relies on (no public one files an in-process
run under its code location): a Dagster upgrade that changes one fails here, naming what changed,
before `make run` breaks for a user."""

import importlib
import inspect

from dagster import DagsterInstance

UPGRADE = "a Dagster upgrade changed a private API that shopinsight_pipeline/devtools/location_runs.py uses: "

PRIVATE_NAMES = {
    "dagster._core.definitions.reconstruct": ["ReconstructableRepository"],
    "dagster._core.execution.api": ["execute_run"],
    "dagster._core.remote_origin": [
        "ManagedGrpcPythonEnvCodeLocationOrigin",
        "RemoteJobOrigin",
        "RemoteRepositoryOrigin",
    ],
    "dagster._core.types.loadable_target_origin": ["LoadableTargetOrigin"],
}


def parameters(function) -> set[str]:
    return set(inspect.signature(function).parameters)


def test_every_private_name_location_runs_imports_still_exists():
    for module_name, names in PRIVATE_NAMES.items():
        module = importlib.import_module(module_name)
        missing = [name for name in names if not hasattr(module, name)]
        assert not missing, UPGRADE + f"{module_name} no longer has {missing}"


def test_the_arguments_location_runs_passes_are_still_accepted():
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    expected = {
        ReconstructableRepository.for_module: {"module", "fn_name", "working_directory"},
        execute_run: {"job", "dagster_run", "instance"},
        DagsterInstance.create_run_for_job: {
            "job_def",
            "run_config",
            "tags",
            "asset_selection",
            "remote_job_origin",
            "job_code_origin",
        },
    }
    for function, used in expected.items():
        missing = used - parameters(function)
        assert not missing, UPGRADE + f"{function.__qualname__} no longer takes {sorted(missing)}"
    # the origin records, built as location_runs builds them
    try:
        target = LoadableTargetOrigin(executable_path="python", module_name="m", working_directory=".")
        location = ManagedGrpcPythonEnvCodeLocationOrigin(loadable_target_origin=target, location_name="here")
        repository = RemoteRepositoryOrigin(location, "__repository__")
        job = RemoteJobOrigin(repository, "__ASSET_JOB")
    except TypeError as error:
        raise AssertionError(UPGRADE + f"an origin record is built differently now: {error}") from error
    assert job.repository_origin.code_location_origin.location_name == "here", UPGRADE + "origins nest differently"


def test_location_runs_imports_nothing_else_from_dagster_core():
    from shopinsight_pipeline.devtools import location_runs

    source = inspect.getsource(location_runs)
    imported = {line.split()[1] for line in source.splitlines() if line.startswith("from dagster._")}
    assert imported == set(PRIVATE_NAMES), f"location_runs.py's private imports changed: {sorted(imported)}"
