"""One measurement in a fresh spawned process, so that its peak memory (ru_maxrss read inside it) is
its own and not what an earlier measurement left in the parent."""

import json
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol


class ChildJob(Protocol):
    """What a measurement names: the child writes its result to <folder>/<name>.json."""

    @property
    def name(self) -> str: ...

    @property
    def folder(self) -> str: ...


def measure_in_child(target: Callable[[Any], None], job: ChildJob) -> dict | None:
    """Run `target(job)` in a spawned process; the JSON it wrote (plus wall_seconds), or None when
    the child died (killed for memory, an exception: the message says which exit code)."""
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=target, args=(job,))
    started = time.perf_counter()
    process.start()
    process.join()
    output = Path(job.folder) / f"{job.name}.json"
    if process.exitcode != 0 or not output.exists():
        seconds = time.perf_counter() - started
        print(f"  {job.name}: the child failed (exit code {process.exitcode}) after {seconds:.0f}s")
        return None
    result = json.loads(output.read_text(encoding="utf-8"))
    result["wall_seconds"] = time.perf_counter() - started
    return result


def run_script_child(script: str, *arguments: str) -> dict:
    """Run `script --child ARGUMENTS` in a fresh interpreter (its peak RSS is its own); the JSON
    object printed on its last line of output."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, script, "--child", *arguments], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
