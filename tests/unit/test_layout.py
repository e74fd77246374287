"""The house rules of the layout (ARCHITECTURE.md, "Layout"), read from every module's syntax tree.

Imports run one way, top → wiring → libraries → ground; pure libraries never import Dagster; no module is over
600 lines of code. A module that breaks a rule is named with the line of the offending import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("orchestration", "assets", "expectations", "forecasts")
MAX_LINES_OF_CODE = 600

TOP, WIRING, LIBRARY, GROUND = "top", "wiring", "library", "ground"
# A floor may import its own floor and the ones below it, never one above.
HEIGHT = {GROUND: 0, LIBRARY: 1, WIRING: 2, TOP: 3}
LIBRARY_PACKAGES = ("assets.feeds", "assets.renderers", "expectations", "forecasts")


def floor_of(module: str) -> str:
    """Which floor a dotted module name stands on; the most specific package decides."""
    if module == "orchestration.runtime" or module.startswith("orchestration.runtime."):
        return GROUND
    if any(module == package or module.startswith(package + ".") for package in LIBRARY_PACKAGES):
        return LIBRARY
    if module == "assets" or module.startswith("assets."):
        return WIRING
    return TOP


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def imports_of(source: str) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in the source, wherever it stands (lazy imports in functions too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from package import module` imports the module itself; `from module import name`, the module.
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            found.extend((node.lineno, name) for name in submodules if is_project_module(name))
            if not any(is_project_module(name) for name in submodules):
                found.append((node.lineno, node.module))
    return found


def is_project_module(name: str) -> bool:
    if name.split(".")[0] not in PACKAGES:
        return False
    path = ROOT / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def sources() -> list[tuple[str, str, str]]:
    """(file as shown, dotted module, source text) of every project module."""
    return [
        (str(path.relative_to(ROOT)), module_name(path), path.read_text(encoding="utf-8")) for path in project_modules()
    ]


def test_the_floors_are_read_from_the_path():
    assert floor_of("orchestration.cli") == TOP
    assert floor_of("orchestration.runtime.settings") == GROUND
    assert floor_of("assets.ingest") == WIRING
    assert floor_of("assets.feeds.parsers.x12") == LIBRARY
    assert floor_of("assets.renderers.report") == LIBRARY
    assert floor_of("forecasts.replenishment.policy") == LIBRARY


def upward_imports(modules: list[tuple[str, str, str]]) -> list[str]:
    found = []
    for shown, here, source in modules:
        for line, imported in imports_of(source):
            if is_project_module(imported) and HEIGHT[floor_of(imported)] > HEIGHT[floor_of(here)]:
                found.append(f"{shown}:{line}: {floor_of(here)} imports {floor_of(imported)} {imported}")
    return found


def test_imports_run_one_way_top_to_wiring_to_libraries_to_ground():
    assert upward_imports(sources()) == []


def test_the_check_would_see_an_import_that_runs_upward():
    """The rule is only as good as its reading of the tree: planted upward imports must be found."""
    planted = [
        ("planted.py", "forecasts.replenishment.planted", "def f():\n    from assets.replenishment import PLAN_KEY\n"),
        ("ground.py", "orchestration.runtime.planted", "import orchestration.cli\n"),
        ("wiring.py", "assets.planted", "from orchestration import definitions\n"),
        ("fine.py", "assets.planted", "from forecasts.replenishment import policy\n"),
    ]
    assert upward_imports(planted) == [
        "planted.py:2: library imports wiring assets.replenishment",
        "ground.py:1: ground imports top orchestration.cli",
        "wiring.py:1: wiring imports top orchestration.definitions",
    ]


@pytest.mark.parametrize("floor", [LIBRARY, GROUND])
def test_pure_floors_import_no_dagster_and_the_ground_nothing_of_the_project(floor):
    offenders = []
    for shown, here, source in sources():
        if floor_of(here) != floor:
            continue
        for line, imported in imports_of(source):
            top_package = imported.split(".")[0]
            if floor == LIBRARY and top_package in {"dagster", "dagster_dbt"}:
                offenders.append(f"{shown}:{line}: {imported}")
            if floor == GROUND and is_project_module(imported) and floor_of(imported) != GROUND:
                offenders.append(f"{shown}:{line}: {imported}")
    assert offenders == []


def lines_of_code(path: Path) -> int:
    """Lines that are neither blank nor only a comment (docstrings count: they are read as much as code)."""
    return sum(
        1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.strip().startswith("#")
    )


def test_no_module_is_over_600_lines_of_code():
    long = {str(path.relative_to(ROOT)): lines_of_code(path) for path in project_modules()}
    assert {name: count for name, count in long.items() if count > MAX_LINES_OF_CODE} == {}
