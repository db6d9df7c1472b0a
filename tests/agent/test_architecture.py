"""The rules of the house (docs/architecture.md), checked on the source.

The import graph is read from the code with ``ast``: every ``import`` and
``from ... import`` anywhere in a module (function-local ones included) and
every ``importlib.import_module("...")`` with a literal name, so a cycle or a
forbidden dependency cannot hide inside a function.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "agent" / "cctv_sentinel"

CORE = frozenset({"errors", "limits", "model", "logs", "blocking", "__init__", "__main__"})
"""Modules at the package root; everything else lives in a package with one job."""


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, name] if name else base)


def _imports(path: Path, module: str) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, outside any function) for every import in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function: set[int] = set()
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function.update(id(n) for n in ast.walk(func) if n is not func)
    for parent in ast.walk(tree):
        for node in ast.iter_child_nodes(parent):
            node_top = id(node) not in in_function
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, node.lineno, node_top
            elif isinstance(node, ast.ImportFrom):
                target = (
                    _resolve(module, path.name == "__init__.py", node.level, node.module)
                    if node.level
                    else node.module or ""
                )
                yield target, node.lineno, node_top
                for alias in node.names:  # ``from pkg import submodule``
                    yield f"{target}.{alias.name}", node.lineno, node_top
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                yield node.args[0].value, node.lineno, False
    # The CLI's command table names modules by string (loaded with importlib).
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
            if (
                value.startswith("cctv_sentinel.")
                and value.replace(".", "").replace("_", "").isalnum()
            ):
                yield value, node.lineno, False


@functools.cache
def _graph(root: Path, package: str) -> dict[str, set[str]]:
    modules = {
        _module_name(p, root, package): p
        for p in root.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for imported, _line, _top in _imports(path, module):
            # ``from pkg import name`` names a module only when one exists.
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module and target.startswith(package):
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph with edges *into* a package's ``__init__`` from its own submodules removed.

    ``pkg/__init__.py`` re-exporting ``pkg.a`` while ``pkg.a`` imports a sibling
    through ``pkg`` is not a cycle Python trips over; everything else is.
    """
    return {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}


def test_the_agent_has_no_import_cycle() -> None:
    assert _cycles(_without_package_inits(_graph(AGENT, "cctv_sentinel"))) == []


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


LAYERS: dict[str, frozenset[str]] = {
    # layer -> the first-party layers it may import (besides itself and the core)
    "_util": frozenset(),
    "protocols": frozenset({"_util"}),
    "discovery": frozenset({"_util", "protocols"}),
    "identify": frozenset({"_util", "protocols"}),
    "inventory": frozenset({"_util"}),
    "mqtt": frozenset({"_util", "protocols", "inventory"}),
    "isolation": frozenset({"_util", "protocols", "discovery"}),  # rails read the neighbour table
    "estate": frozenset({"_util", "protocols", "inventory", "mqtt"}),
    "report": frozenset({"_util", "protocols", "identify", "estate"}),
    "service": frozenset(
        {"_util", "protocols", "discovery", "identify", "inventory", "mqtt", "isolation", "report"}
    ),
    "cli": frozenset({"_util", "protocols", "discovery", "identify", "inventory", "mqtt"})
    | frozenset({"isolation", "estate", "report", "service"}),
}
"""Who may depend on whom: lower layers never reach up (docs/architecture.md)."""


def _first_party_edges() -> Iterator[tuple[str, str]]:
    for module, targets in _graph(AGENT, "cctv_sentinel").items():
        for target in targets:
            yield module, target


def test_layers_only_depend_downwards() -> None:
    wrong = []
    for module, target in _first_party_edges():
        src, dst = _layer(module), _layer(target)
        if src == dst or dst in CORE:
            continue
        if module == "cctv_sentinel.__main__" and dst == "cli":
            continue  # ``python -m cctv_sentinel`` is the command line
        if src in CORE:
            wrong.append(f"{module} (core) imports {target}")
        elif dst not in LAYERS.get(src, frozenset()):
            wrong.append(f"{module} ({src}) imports {target} ({dst})")
    assert sorted(wrong) == []


def test_the_root_keeps_only_the_core() -> None:
    root_modules = {p.stem for p in AGENT.glob("*.py")}
    assert root_modules <= CORE
    assert set(LAYERS) == {p.name for p in AGENT.iterdir() if (p / "__init__.py").exists()}


PURE = {
    "protocols": frozenset({"socket", "asyncio", "paho", "aiohttp", "sqlite3", "subprocess"}),
    "identify": frozenset(
        {"socket", "asyncio", "paho", "aiohttp", "sqlite3", "subprocess", "httpx", "onvif"}
    ),
    "mqtt.contract": frozenset({"socket", "asyncio", "paho", "aiohttp", "sqlite3", "subprocess"}),
    "_util": frozenset({"socket", "asyncio", "paho", "aiohttp", "sqlite3", "subprocess"}),
}
"""Packages that parse and decide without I/O, and the modules that would mean I/O."""


@pytest.mark.parametrize("package", sorted(PURE))
def test_pure_packages_do_no_io(package: str) -> None:
    root = AGENT.joinpath(*package.split("."))
    found = []
    for path in root.rglob("*.py"):
        module = _module_name(path, AGENT, "cctv_sentinel")
        for target, line, _top in _imports(path, module):
            if target.split(".")[0] in PURE[package]:
                found.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    assert found == []


def test_discovery_never_decides_who_made_a_device() -> None:
    assert [
        (m, t)
        for m, t in _first_party_edges()
        if _layer(m) == "discovery" and _layer(t) == "identify"
    ] == []


def test_function_local_imports_are_documented_lazy_loads() -> None:
    """A function-local import must say why it is lazy (``noqa: PLC0415`` plus a reason)."""
    undocumented = []
    for path in AGENT.rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        module = _module_name(path, AGENT, "cctv_sentinel")
        for target, line, top in _imports(path, module):
            text = lines[line - 1]
            if top or "import" not in text:
                continue  # module level, or a string naming a module
            if "noqa: PLC0415" not in text or "lazy" not in text:
                undocumented.append(f"{path.relative_to(REPO)}:{line} {target}")
    assert sorted(set(undocumented)) == []
