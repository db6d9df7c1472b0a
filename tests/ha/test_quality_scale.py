"""quality_scale.yaml claims rules; this module holds each claim to behaviour.

Every rule marked ``done`` names the tests that show the behaviour it requires
(in this module or elsewhere in tests/ha, or the guard in scripts/test that
enforces it); a claim with no such test fails. Every ``exempt`` rule's stated
premise (no polling, no HTTP, no credentials...) is checked as a fact about the code.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_platform
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cctv_sentinel.const import DOMAIN, PLATFORMS
from custom_components.cctv_sentinel.coordinator import SentinelCoordinator
from custom_components.cctv_sentinel.estate import Estate

from .conftest import RESTRICTED_ID

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "custom_components" / DOMAIN
TESTS = Path(__file__).resolve().parent
SCALE: dict[str, Any] = yaml.safe_load((COMPONENT / "quality_scale.yaml").read_text("utf-8"))[
    "rules"
]
STRINGS = json.loads((COMPONENT / "translations" / "en.json").read_text("utf-8"))
README = (ROOT / "README.md").read_text("utf-8")
_HA_START = README.index("## Home Assistant")
HA_README = README[_HA_START : README.index("\n## ", _HA_START + 5)]


def _status(rule: str) -> str:
    value = SCALE[rule]
    return value if isinstance(value, str) else str(value["status"])


def _section(heading: str) -> str:
    """The README's Home Assistant text under a heading, up to the next heading of its level."""
    level = heading.split(" ", maxsplit=1)[0]
    start = HA_README.index(heading + "\n")
    rest = HA_README[start + len(heading) :]
    following = re.search(rf"^{level} ", rest, flags=re.MULTILINE)
    return rest[: following.start()] if following else rest


# --- behaviour the docs rules require ---------------------------------------------------


def test_docs_describe_every_action() -> None:
    """docs-actions: each action and each of its fields is described under Actions."""
    actions = _section("### Actions")
    services = yaml.safe_load((COMPONENT / "services.yaml").read_text("utf-8"))
    for name, service in services.items():
        assert f"`{DOMAIN}.{name}`" in actions, name
        for field in service.get("fields") or {}:
            assert f"`{field}`" in actions, (name, field)


def test_docs_describe_every_option_and_setup_field() -> None:
    """docs-configuration-parameters and docs-installation-parameters: every field's label."""
    for label in STRINGS["options"]["step"]["init"]["data"].values():
        assert f"**{label}**" in _section("#### Policy (options)"), label
    for label in STRINGS["config"]["step"]["user"]["data"].values():
        assert f"**{label}**" in _section("#### Adding an agent"), label


async def test_docs_list_every_entity(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    """docs-supported-functions: every entity is in the Entities tables.

    The tables name the restricted example camera's entities (every camera has the
    same kinds) and the agent's and estate's.
    """
    tables = _section("#### Entities")
    registry = er.async_get(hass)
    camera_device = loaded.runtime_data.devices.device_ids[RESTRICTED_ID]
    kinds: dict[str | None, set[tuple[str, str | None]]] = {}
    for entry in er.async_entries_for_config_entry(registry, loaded.entry_id):
        kinds.setdefault(entry.device_id, set()).add((entry.domain, entry.translation_key))
        if entry.device_id in (camera_device, loaded.runtime_data.devices.agent_device_id, None):
            assert f"`{entry.entity_id}`" in tables, entry.entity_id
    camera_kinds = kinds[camera_device]
    for device_id in loaded.runtime_data.devices.device_ids.values():
        assert kinds[device_id] <= camera_kinds, device_id


@pytest.mark.parametrize(
    ("rule", "heading", "must_say"),
    [
        ("docs-high-level-description", "## Home Assistant", ["real maker", "agent", "MQTT"]),
        ("docs-installation-instructions", "### Installation", ["HACS", "custom_components"]),
        ("docs-removal-instructions", "### Removal", ["Delete"]),
        ("docs-data-update", "### How data is updated", ["Push", "retained"]),
        ("docs-examples", "### Blueprints and example automations", ["```yaml", "blueprint"]),
        ("docs-use-cases", "#### Use cases", ["- **"]),
        ("docs-supported-devices", "### Supported devices", ["Not supported"]),
        ("docs-known-limitations", "### Known limitations", ["- **"]),
        ("docs-troubleshooting", "### Troubleshooting", ["log"]),
    ],
)
def test_docs_sections(rule: str, heading: str, must_say: list[str]) -> None:
    """Each docs rule's section exists in the README and says what the rule asks for."""
    text = HA_README if heading == "## Home Assistant" else _section(heading)
    for phrase in must_say:
        assert phrase in text, (rule, phrase)


# --- behaviour the entity and set-up rules require ----------------------------------------


async def test_entities_follow_the_entity_rules(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    """entity-unique-id, has-entity-name, entity-translations, icon-translations, and push only.

    Every entity has a unique id, a translated name (no hard-coded name or icon)
    and never polls.
    """
    entities = [
        entity
        for platform in entity_platform.async_get_platforms(hass, DOMAIN)
        for entity in platform.entities.values()
    ]
    assert len(entities) > 10
    registry = er.async_get(hass)
    for entity in entities:
        assert entity.unique_id, entity.entity_id
        assert entity.has_entity_name, entity.entity_id
        assert entity.should_poll is False, entity.entity_id
        entry = registry.async_get(entity.entity_id)
        assert entry is not None
        assert entry.translation_key, entity.entity_id
        assert (
            entry.original_name is None
            or entry.original_name == STRINGS["entity"][entry.domain][entry.translation_key]["name"]
        ), entity.entity_id
        assert entry.original_icon is None, entity.entity_id


def test_every_platform_sets_parallel_updates() -> None:
    """parallel-updates: each platform module says how many updates may run at once."""
    for platform in PLATFORMS:
        module = importlib.import_module(f"custom_components.{DOMAIN}.{platform.value}")
        assert isinstance(module.PARALLEL_UPDATES, int), platform


async def test_runtime_data(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    """runtime-data: an entry's objects live on entry.runtime_data; hass.data holds the estate."""
    assert isinstance(loaded.runtime_data, SentinelCoordinator)
    assert isinstance(hass.data[DOMAIN], Estate)
    assert list(hass.data[DOMAIN].coordinators.values()) == [loaded.runtime_data]


# --- premises of the exemptions -----------------------------------------------------------


def _imports() -> set[str]:
    found: set[str] = set()
    for path in COMPONENT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_exempt_no_http_and_no_library() -> None:
    """inject-websession, async-dependency, dependency-transparency: nothing to inject or vet."""
    assert not _imports() & {"aiohttp", "httpx", "requests", "urllib3"}
    assert _imports() <= {"homeassistant", "voluptuous", "probatio", "__future__"} | set(
        __import__("sys").stdlib_module_names
    )
    assert json.loads((COMPONENT / "manifest.json").read_text("utf-8"))["requirements"] == []


def test_exempt_no_credentials_no_conditions_no_triggers() -> None:
    """reauthentication-flow, docs-conditions, docs-triggers: the premises hold.

    The entry logs in to nothing (it stores the agent id and base topic; the
    broker's credentials belong to the MQTT integration). Its one secret, the
    optional command-signing key, is the user's own shared key in the options
    flow: no remote side can reject or expire it, so there is nothing to
    re-authenticate. The integration offers no conditions or triggers of its own.
    """
    flow = (COMPONENT / "config_flow.py").read_text("utf-8")
    for login in (
        "CONF_PASSWORD",
        "CONF_USERNAME",
        "CONF_TOKEN",
        "CONF_API_KEY",
        "async_step_reauth",
    ):
        assert login not in flow, login
    assert "CONF_COMMAND_SECRET" in flow  # the signing key, in the options flow only
    for module in ("condition.py", "trigger.py", "device_trigger.py", "device_condition.py"):
        assert not (COMPONENT / module).exists(), module


# Every rule of the Integration Quality Scale (hassfest quality_scale.py ALL_RULES),
# including docs-conditions and docs-triggers (added July 2026).
RULES = {
    "bronze": [
        "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
        "config-flow-test-coverage", "dependency-transparency", "docs-actions",
        "docs-conditions", "docs-high-level-description", "docs-installation-instructions",
        "docs-removal-instructions", "docs-triggers", "entity-event-setup", "entity-unique-id",
        "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
        "docs-installation-parameters", "entity-unavailable", "integration-owner",
        "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    ],
    "gold": [
        "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
        "docs-examples", "docs-known-limitations", "docs-supported-devices",
        "docs-supported-functions", "docs-troubleshooting", "docs-use-cases",
        "dynamic-devices", "entity-category", "entity-device-class",
        "entity-disabled-by-default", "entity-translations", "exception-translations",
        "icon-translations", "reconfiguration-flow", "repair-issues", "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}  # fmt: skip


def test_every_rule_is_listed() -> None:
    """quality_scale.yaml lists every rule of hassfest's scale, no more."""
    assert sorted(SCALE) == sorted(rule for rules in RULES.values() for rule in rules)


# --- each claim names its evidence --------------------------------------------------------

EVIDENCE: dict[str, list[str]] = {
    "action-setup": ["test_init.py::test_services_exist_without_entries"],
    "brands": ["test_packaging.py::test_brand_images"],
    "common-modules": ["test_architecture.py::test_no_import_cycles"],
    "config-flow": ["test_config_flow.py::test_discovery_confirm_form"],
    "config-flow-test-coverage": ["scripts/test::--include='*/config_flow.py' --fail-under=100"],
    "docs-actions": ["test_quality_scale.py::test_docs_describe_every_action"],
    "docs-high-level-description": ["test_quality_scale.py::test_docs_sections"],
    "docs-installation-instructions": ["test_quality_scale.py::test_docs_sections"],
    "docs-removal-instructions": ["test_quality_scale.py::test_docs_sections"],
    "entity-event-setup": ["test_init.py::test_unload_and_reload_leave_nothing_behind"],
    "entity-unique-id": ["test_quality_scale.py::test_entities_follow_the_entity_rules"],
    "has-entity-name": ["test_quality_scale.py::test_entities_follow_the_entity_rules"],
    "runtime-data": ["test_quality_scale.py::test_runtime_data"],
    "test-before-configure": ["test_config_flow.py::test_user_finds_one_agent_after_errors"],
    "test-before-setup": ["test_init.py::test_setup_retries_without_mqtt"],
    "unique-config-entry": ["test_config_flow.py::test_discovery_aborts"],
    "action-exceptions": [
        "test_services.py::test_agent_failures_raise",
        "test_services.py::test_isolate_validation",
    ],
    "config-entry-unloading": ["test_init.py::test_unload_and_reload_leave_nothing_behind"],
    "docs-configuration-parameters": [
        "test_quality_scale.py::test_docs_describe_every_option_and_setup_field"
    ],
    "docs-installation-parameters": [
        "test_quality_scale.py::test_docs_describe_every_option_and_setup_field"
    ],
    "entity-unavailable": ["test_entities.py::test_availability_follows_status_and_mqtt"],
    "integration-owner": ["test_packaging.py::test_manifest_follows_hassfest"],
    "log-when-unavailable": ["test_entities.py::test_availability_follows_status_and_mqtt"],
    "parallel-updates": ["test_quality_scale.py::test_every_platform_sets_parallel_updates"],
    "test-coverage": ["scripts/test::--cov-fail-under=97"],
    "devices": ["test_entities.py::test_devices", "test_entities.py::test_device_page_fields"],
    "diagnostics": [
        "test_diagnostics.py::test_entry_diagnostics",
        "test_diagnostics.py::test_device_diagnostics",
    ],
    "discovery": ["test_config_flow.py::test_discovery_through_manifest_topic"],
    "discovery-update-info": [
        "test_config_flow.py::test_discovery_of_configured_agent_updates_base_topic"
    ],
    "docs-data-update": ["test_quality_scale.py::test_docs_sections"],
    "docs-examples": ["test_quality_scale.py::test_docs_sections"],
    "docs-known-limitations": ["test_quality_scale.py::test_docs_sections"],
    "docs-supported-devices": ["test_quality_scale.py::test_docs_sections"],
    "docs-supported-functions": ["test_quality_scale.py::test_docs_list_every_entity"],
    "docs-troubleshooting": ["test_quality_scale.py::test_docs_sections"],
    "docs-use-cases": ["test_quality_scale.py::test_docs_sections"],
    "dynamic-devices": ["test_entities.py::test_new_camera_appears_without_reload"],
    "entity-category": ["test_entities.py::test_platform_snapshot"],
    "entity-device-class": ["test_entities.py::test_platform_snapshot"],
    "entity-disabled-by-default": ["test_entities.py::test_platform_snapshot"],
    "entity-translations": [
        "test_quality_scale.py::test_entities_follow_the_entity_rules",
        "test_packaging.py::test_every_entity_has_name_and_icon",
    ],
    "exception-translations": ["test_packaging.py::test_every_exception_is_translated"],
    "icon-translations": [
        "test_quality_scale.py::test_entities_follow_the_entity_rules",
        "test_packaging.py::test_every_entity_has_name_and_icon",
    ],
    "reconfiguration-flow": ["test_config_flow.py::test_reconfigure"],
    "repair-issues": [
        "test_repairs.py::test_fix_by_isolating",
        "test_alerts_at_scale.py::test_grouped_fix_flow_isolates_picked_cameras",
    ],
    "stale-devices": [
        "test_entities.py::test_stale_devices_removed_after_a_scan",
        "test_init.py::test_remove_config_entry_device",
    ],
    "strict-typing": ["scripts/test::mypy --python-version 3.13 custom_components/cctv_sentinel"],
    # Premises of the exemptions.
    "appropriate-polling": ["test_quality_scale.py::test_entities_follow_the_entity_rules"],
    "dependency-transparency": ["test_quality_scale.py::test_exempt_no_http_and_no_library"],
    "async-dependency": ["test_quality_scale.py::test_exempt_no_http_and_no_library"],
    "inject-websession": ["test_quality_scale.py::test_exempt_no_http_and_no_library"],
    "reauthentication-flow": [
        "test_quality_scale.py::test_exempt_no_credentials_no_conditions_no_triggers"
    ],
    "docs-conditions": [
        "test_quality_scale.py::test_exempt_no_credentials_no_conditions_no_triggers"
    ],
    "docs-triggers": [
        "test_quality_scale.py::test_exempt_no_credentials_no_conditions_no_triggers"
    ],
}


def _defined_tests(file: str) -> set[str]:
    tree = ast.parse((TESTS / file).read_text("utf-8"))
    functions = (
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )
    return {node.name for node in functions if node.name.startswith("test_")}


def test_every_claim_names_behaviour_that_is_tested() -> None:
    """Each rule claimed done or exempt names tests (or guards) that exist; todo claims nothing."""
    claimed = {rule for rule in SCALE if _status(rule) in ("done", "exempt")}
    assert claimed == set(EVIDENCE), claimed ^ set(EVIDENCE)
    for rule in claimed:
        if _status(rule) == "exempt":
            assert str(SCALE[rule]["comment"]).strip(), rule
        for evidence in EVIDENCE[rule]:
            where, what = evidence.split("::", 1)
            if where.startswith("scripts/"):
                assert what in (ROOT / where).read_text("utf-8"), (rule, evidence)
            else:
                assert what in _defined_tests(where), (rule, evidence)
