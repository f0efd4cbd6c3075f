"""Tools for running, testing and benchmarking the project, not part of the code location:
real servers on 127.0.0.1 for the deployment tests (`local_services`), `dagster dev` driven over
GraphQL (`devserver`), runs filed under the code location for `make run` (`location_runs`), and a
seed scorer so a test or a benchmark scores reviews without training (`scorers`)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout: workspace.yaml, deploy/, dagster_home/
