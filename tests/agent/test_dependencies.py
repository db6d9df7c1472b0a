"""Every package the code imports is declared, and docs/dependencies.md says why.

Imports are read from the source (function-local ones included) and mapped to
the distributions installed in this environment that provide them.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
DOC = (ROOT / "docs" / "dependencies.md").read_text("utf-8")
FIRST_PARTY = {"cctv_sentinel", "custom_components", "tests", "bench"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert match, spec
    return norm(match.group(1))


def declared(*groups: str) -> set[str]:
    names = {requirement_name(s) for s in PYPROJECT["project"]["dependencies"]}
    for group in groups:
        names |= {requirement_name(s) for s in PYPROJECT["dependency-groups"][group]}
    return names


def imported_modules(paths: Iterable[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in paths:
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".", 1)[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    found.setdefault(top, path)
    return found


def distributions_of(module: str) -> set[str]:
    return {norm(d) for d in importlib.metadata.packages_distributions().get(module, [])}


def test_every_package_the_agent_imports_is_a_runtime_dependency() -> None:
    runtime = declared()
    modules = imported_modules((ROOT / "agent" / "cctv_sentinel").rglob("*.py"))
    undeclared = {
        module: str(path.relative_to(ROOT))
        for module, path in modules.items()
        if not distributions_of(module) & runtime
    }
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"


def test_every_runtime_dependency_is_used_and_explained() -> None:
    modules = imported_modules((ROOT / "agent" / "cctv_sentinel").rglob("*.py"))
    used = set().union(*(distributions_of(m) for m in modules))
    for name in declared():
        assert name in used, f"{name} is declared but the agent never imports it"
        assert re.search(rf"^## `?{re.escape(name)}`?", DOC, re.M | re.I), (
            f"docs/dependencies.md has no section for {name}"
        )


SYSTEM_MODULES = {"gi": "python3-gi"}
"""Modules of Debian packages (scripts/bootstrap installs them with apt), not of PyPI."""


def test_every_package_the_tests_import_is_declared() -> None:
    allowed = declared("dev", "ha", "peers")
    modules = imported_modules((ROOT / "tests").rglob("*.py"))
    undeclared = {
        module: str(path.relative_to(ROOT))
        for module, path in modules.items()
        if module not in SYSTEM_MODULES and not distributions_of(module) & allowed
    }
    assert not undeclared, f"imported by tests but in no dependency group: {undeclared}"
    for module, package in SYSTEM_MODULES.items():
        assert f"`{package}`" in DOC, f"docs/dependencies.md does not explain {module}"


def test_every_test_group_dependency_is_explained() -> None:
    for name in declared("dev", "ha", "peers") - declared():
        assert re.search(rf"`{re.escape(name)}`", DOC, re.I), (
            f"docs/dependencies.md does not mention {name}"
        )


def test_removed_onvif_stack_stays_removed() -> None:
    # One ONVIF path (issue 14): our own bounded SOAP client, no WSDL stack beside it.
    assert not {"onvif-zeep-async", "zeep", "httpx"} & declared()
    modules = imported_modules((ROOT / "agent" / "cctv_sentinel").rglob("*.py"))
    assert not {"onvif", "zeep", "httpx"} & set(modules)
