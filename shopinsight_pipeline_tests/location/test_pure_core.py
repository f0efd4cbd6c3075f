"""The functional core imports nothing that imports Dagster: it is tested, benchmarked and run in
`accelerate launch` workers without the orchestrator."""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import shopinsight_pipeline
import shopinsight_pipeline.aspects
import shopinsight_pipeline.ml
import shopinsight_pipeline.recommend

PURE_MODULES = [
    *(
        f"shopinsight_pipeline.aspects.{module.name}"
        for module in pkgutil.iter_modules(shopinsight_pipeline.aspects.__path__)
        # the Dagster shell: the assets, and the serving pointer read through the storage resource
        # (as score/serving.py is for the sentiment scorer)
        if module.name not in ("assets", "config", "serving")
    ),
    *(f"shopinsight_pipeline.ml.{module.name}" for module in pkgutil.iter_modules(shopinsight_pipeline.ml.__path__)),
    *(
        f"shopinsight_pipeline.recommend.{module.name}"
        for module in pkgutil.iter_modules(shopinsight_pipeline.recommend.__path__)
        if module.name not in ("assets", "config")  # the Dagster shell: assets and their run config
    ),
    *(
        f"shopinsight_pipeline.reports.{name}"
        for name in ("sales", "sentiment", "trends", "forecast", "insights", "report", "windows", "quality")
    ),
    "shopinsight_pipeline.validate.rules",
    "shopinsight_pipeline.validate.expectations",
    "shopinsight_pipeline.ingest.landing",
    "shopinsight_pipeline.products.catalogue",
    "shopinsight_pipeline.schemas",
    "shopinsight_pipeline.files",
    "shopinsight_pipeline.markdown",
    "shopinsight_pipeline.charts",
    "shopinsight_pipeline.sample",
    "shopinsight_pipeline.calendar",
]


def test_pure_modules_import_no_dagster():
    program = (
        "import importlib, json, sys\n"
        f"for name in {PURE_MODULES!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.'))))"
    )
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []
    assert len(PURE_MODULES) > 20  # every ml module is in the list


def test_loading_the_code_location_imports_no_ml_or_validation_library():
    """The webserver, the daemon and every run load the code location; torch, transformers,
    scikit-learn and great-expectations are imported by the steps that use them."""
    heavy = ("torch", "transformers", "sklearn", "great_expectations")
    program = (
        "import json, sys\n"
        "import shopinsight_pipeline.definitions\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


def test_no_modules_import_each_other():
    """No import circle, direct or through others, counting imports inside functions too: a module
    that needs another's constant and is needed by it means the constant lives in the wrong place."""
    root = Path(shopinsight_pipeline.__file__).parent
    modules = {
        ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__"): path
        for path in root.rglob("*.py")
    }
    imports: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                imports[name].add(node.module)
                imports[name].update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                imports[name].update(alias.name for alias in node.names if alias.name in modules)
    imports = {name: {target for target in targets if target in modules} for name, targets in imports.items()}

    def reaches(start: str) -> set[str]:
        seen, todo = set(), list(imports[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(imports[module])
        return seen

    circles = sorted(name for name in modules if name in reaches(name))
    assert circles == [], f"modules in an import circle: {circles}"
    assert len(modules) > 60 and imports["shopinsight_pipeline.definitions"]  # the walk saw the package
