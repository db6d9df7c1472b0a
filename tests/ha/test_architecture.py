"""The integration's layout holds: no import cycles, pure parts stay pure, guards bite."""

from __future__ import annotations

import ast
import time
import warnings
from pathlib import Path

import pytest
from blockbuster import BlockingError
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cctv_sentinel.const import DOMAIN

from .conftest import RESTRICTED_ID, FakeAgent

PACKAGE = Path(__file__).resolve().parents[2] / "custom_components" / DOMAIN
PREFIX = f"custom_components.{DOMAIN}"
PURE = {"models", "policy", "state", "text"}
"""Modules that must not import Home Assistant: checked without it, reused by contract tests."""


def _imports(module: str) -> set[str]:
    """Every module this one imports, anywhere in it (function-local and TYPE_CHECKING too)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = node.module or ""
                if base:
                    found.add(f"{PREFIX}.{base}")
                else:
                    found.update(f"{PREFIX}.{alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module)
    return found


MODULES = sorted(path.stem for path in PACKAGE.glob("*.py"))
GRAPH = {
    module: {
        name.removeprefix(f"{PREFIX}.")
        for name in _imports(module)
        if name.startswith(f"{PREFIX}.") and name.removeprefix(f"{PREFIX}.") in MODULES
    }
    for module in MODULES
}


def test_no_import_cycles() -> None:
    """The module graph is acyclic, counting every import statement wherever it stands."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for imported in sorted(GRAPH[module]):
            if state.get(imported) == "open":
                cycle = [*path[path.index(imported) :], imported]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if imported not in state:
                visit(imported)
        path.pop()
        state[module] = "done"

    for module in MODULES:
        if module not in state:
            visit(module)


def test_no_function_local_imports() -> None:
    """Imports stand at module level (no hidden cycles, no import work in callbacks)."""
    for module in MODULES:
        tree = ast.parse((PACKAGE / f"{module}.py").read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                local = [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not local, f"{module}.{node.name} imports inside a function"


def test_never_imports_the_agent() -> None:
    """The integration shares only the MQTT contract with the agent, never its code."""
    for module in MODULES:
        agent = {name for name in _imports(module) if name.split(".")[0] == "cctv_sentinel"}
        assert not agent, (module, agent)


def test_pure_modules_do_not_import_home_assistant() -> None:
    """Payload parsing, policy, state and text rules run (and are tested) without HA."""
    for module in PURE:
        outside = {
            name
            for name in _imports(module)
            if not name.startswith(PREFIX) and name.split(".")[0] == "homeassistant"
        }
        assert not outside, (module, outside)
        assert GRAPH[module] <= PURE | {"const"}, (module, GRAPH[module])


def test_version_differences_live_in_compat() -> None:
    """Only compat.py names the validation library or the removed device-registry calls."""
    for module in MODULES:
        text = (PACKAGE / f"{module}.py").read_text("utf-8")
        if module in ("compat", "models"):
            continue  # models validates payloads with voluptuous' common surface only
        assert "import voluptuous" not in text, module
        assert "import probatio" not in text, module
        assert "remove_config_entry_id" not in text, module
        assert "via_device" not in text.replace("parent_link", ""), module


async def test_blocking_call_from_our_code_fails(hass: HomeAssistant) -> None:
    """The blockbuster guard bites: a blocking call made by our package in the loop raises."""
    code = compile("time.sleep(0)", str(PACKAGE / "probe.py"), "exec")
    with pytest.raises(BlockingError):
        exec(code, {"__name__": f"{PREFIX}.probe", "time": time})


async def test_no_deprecation_on_this_line(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    agent: FakeAgent,
    device_registry: dr.DeviceRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Set-up, updates, policy changes, removal and unload: no deprecation, on either HA line.

    Home Assistant reports a custom integration's use of a deprecated API in the log
    ("Detected that custom integration ..."); Python warnings from our files count too.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent.camera("camera_restricted", firmware="V5.7", hw_version="E1")
        hass.config_entries.async_update_entry(loaded, options={"show_serial": True})
        await hass.async_block_till_done()
        agent.remove(RESTRICTED_ID)
        await hass.async_block_till_done()
        assert await hass.config_entries.async_unload(loaded.entry_id)
        await hass.async_block_till_done()
    ours = [w for w in caught if f"custom_components/{DOMAIN}" in str(w.filename)]
    assert ours == []
    assert "Detected that custom integration" not in caplog.text
    assert "will stop working" not in caplog.text
