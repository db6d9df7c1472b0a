"""The protocols package stays pure: no sockets, event loop, logging or processes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cctv_sentinel.protocols

FORBIDDEN = frozenset({"socket", "asyncio", "aiohttp", "paho", "logging", "subprocess"})
PACKAGE = Path(cctv_sentinel.protocols.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, at any depth."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_the_package_has_the_modules_the_probes_use() -> None:
    names = {p.stem for p in MODULES}
    assert {"wsd", "sadp", "dhip", "ssdp", "mdns", "http", "rtsp", "onvif"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_imports_nothing_that_does_io(path: Path) -> None:
    assert imported_roots(path).isdisjoint(FORBIDDEN)


def test_the_checker_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nimport socket as s\nfrom asyncio import sleep\n"
        "def f():\n    import logging\n    __import__('subprocess')\n"
    )
    assert imported_roots(sample) >= {"socket", "asyncio", "logging", "subprocess"}
