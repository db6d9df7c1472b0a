"""Packaging: manifest (hassfest rules), hacs.json (HACS schema), translations, icons."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
import yaml
from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations
from homeassistant.loader import async_get_integration
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cctv_sentinel import binary_sensor, button, event, sensor, switch
from custom_components.cctv_sentinel.const import DOMAIN

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "custom_components" / DOMAIN
MANIFEST = json.loads((COMPONENT / "manifest.json").read_text("utf-8"))
STRINGS = json.loads((COMPONENT / "translations" / "en.json").read_text("utf-8"))
ICONS = json.loads((COMPONENT / "icons.json").read_text("utf-8"))
SERVICES = yaml.safe_load((COMPONENT / "services.yaml").read_text("utf-8"))

# Keys hassfest's custom-integration manifest schema knows (script/hassfest/manifest.py,
# home-assistant/core); unknown keys are errors there.
HASSFEST_KEYS = {
    "domain", "name", "after_dependencies", "bluetooth", "codeowners", "config_flow",
    "dependencies", "dhcp", "disabled", "documentation", "homekit", "import_executor",
    "integration_type", "iot_class", "issue_tracker", "loggers", "mqtt", "quality_scale",
    "requirements", "single_config_entry", "ssdp", "usb", "version", "zeroconf",
}  # fmt: skip

# hacs.json keys HACS accepts (hacs/integration custom_components/hacs/utils/validate.py,
# HACS_MANIFEST_JSON_SCHEMA, extra keys forbidden).
HACS_JSON = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Optional("content_in_root"): bool,
        vol.Optional("country"): vol.Any(str, [str]),
        vol.Optional("filename"): str,
        vol.Optional("hacs"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("homeassistant"): str,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
        vol.Optional("zip_release"): bool,
    },
    extra=vol.PREVENT_EXTRA,
)


def test_manifest_follows_hassfest() -> None:
    """Sorted keys (domain, name, then alphabetical), known keys, required values."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert set(keys) <= HASSFEST_KEYS
    assert MANIFEST["domain"] == COMPONENT.name
    assert MANIFEST["iot_class"] == "local_push"
    assert MANIFEST["dependencies"] == ["mqtt"]
    assert MANIFEST["mqtt"] == ["cctv_sentinel/discovery/+"]
    assert MANIFEST["documentation"].startswith("https://github.com/cctv-sentinel/")
    assert MANIFEST["issue_tracker"] == "https://github.com/cctv-sentinel/cctv-sentinel/issues"
    assert MANIFEST["codeowners"]
    assert MANIFEST["requirements"] == []
    assert re.fullmatch(r"\d+\.\d+\.\d+", MANIFEST["version"])


async def test_home_assistant_loads_the_manifest(hass: HomeAssistant) -> None:
    """The loader accepts it (a missing or bad version blocks loading) and sees the topics."""
    integration = await async_get_integration(hass, DOMAIN)
    assert str(integration.version) == MANIFEST["version"]
    assert integration.mqtt == ["cctv_sentinel/discovery/+"]
    assert integration.config_flow


def test_hacs_json() -> None:
    """hacs.json passes HACS's schema and names the minimum Home Assistant."""
    data = json.loads((ROOT / "hacs.json").read_text("utf-8"))
    HACS_JSON(data)
    assert data["homeassistant"] == "2025.4.0"
    assert not data.get("content_in_root", False)


def test_brand_images() -> None:
    """brand/icon.png is 256 x 256 and icon@2x.png 512 x 512 (HA 2026.3+ local brands)."""
    for name, size in (("icon.png", 256), ("icon@2x.png", 512)):
        with Image.open(COMPONENT / "brand" / name) as image:
            assert image.size == (size, size)
            assert image.format == "PNG"


def _keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            found |= _keys(value, f"{prefix}{key}.")
        else:
            found.add(f"{prefix}{key}")
    return found


def test_translations_have_no_core_references() -> None:
    """Custom integrations cannot use [%key:...] references; every string is written out."""
    assert not [key for key in _keys(STRINGS) if "[%key:" in str(_get(STRINGS, key))]


def _get(tree: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


ENTITY_KEYS = {
    "binary_sensor": [binary_sensor.ONLINE, *binary_sensor.CAMERA_BINARY_SENSORS],
    "button": [button.RESCAN],
    "event": [event.CAMERA_EVENTS],
    "sensor": [*sensor.ESTATE_SENSORS, *sensor.AGENT_SENSORS, *sensor.CAMERA_SENSORS],
    "switch": [switch.ISOLATION],
}


@pytest.mark.parametrize("platform", sorted(ENTITY_KEYS))
def test_every_entity_has_name_and_icon(platform: str) -> None:
    """Each description's translation key has a name in en.json and an icon in icons.json."""
    for description in ENTITY_KEYS[platform]:
        key = description.translation_key
        assert key, description.key
        assert STRINGS["entity"][platform][key]["name"]
        assert ICONS["entity"][platform][key]["default"].startswith("mdi:")
        for option in getattr(description, "options", None) or ():
            assert STRINGS["entity"][platform][key]["state"][option]
        for event_type in getattr(description, "event_types", None) or ():
            states = STRINGS["entity"][platform][key]["state_attributes"]["event_type"]["state"]
            assert states[event_type]


def _code() -> list[ast.AST]:
    return [
        node
        for path in COMPONENT.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
    ]


def _exception_keys_raised() -> set[str]:
    """Keys passed as translation_key=, or to the _invalid/_error helpers, in the code."""
    keys: set[str] = set()
    for node in _code():
        values: list[ast.expr] = []
        if isinstance(node, ast.keyword) and node.arg == "translation_key":
            values = [node.value]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
            in ("_invalid", "_error")
        ):
            values = node.args[:1]
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "key" for t in node.targets
        ):
            values = [node.value]
        for value in values:
            for leaf in ast.walk(value):
                if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str):
                    keys.add(leaf.value)
    return keys


def test_every_exception_is_translated() -> None:
    """Every exception key the code raises has a message, and every message is used."""
    entity_keys = {d.translation_key for ds in ENTITY_KEYS.values() for d in ds}
    raised = (
        _exception_keys_raised() - entity_keys - set(STRINGS["issues"]) - set(STRINGS["selector"])
    )
    assert raised <= set(STRINGS["exceptions"]), raised - set(STRINGS["exceptions"])
    literals = {
        n.value for n in _code() if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    assert set(STRINGS["exceptions"]) <= literals


def test_services_are_described() -> None:
    """services.yaml, en.json and icons.json describe the same actions and fields."""
    assert set(SERVICES) == {"rescan", "isolate", "release", "dashboard"}
    assert set(STRINGS["services"]) == set(SERVICES)
    assert set(ICONS["services"]) == set(SERVICES)
    for name, service in SERVICES.items():
        assert set(STRINGS["services"][name]["fields"]) == set(service["fields"])
        assert STRINGS["services"][name]["description"]
    options = SERVICES["isolate"]["fields"]["mode"]["selector"]["select"]["options"]
    assert set(STRINGS["selector"]["isolation_mode"]["options"]) == set(options)


async def test_translations_resolve(hass: HomeAssistant, loaded: MockConfigEntry) -> None:
    """Home Assistant's own loader finds the strings (custom integrations: en.json only)."""
    for category, key in (
        ("entity", "entity.sensor.risk.state.restricted"),
        ("issues", "issues.restricted_camera.fix_flow.step.init.menu_options.isolate"),
        ("exceptions", "exceptions.command_failed.message"),
        ("services", "services.isolate.fields.mode.name"),
        ("config", "config.step.confirm.description"),
        ("options", "options.step.init.data.regimes"),
        ("selector", "selector.isolation_mode.options.quarantine"),
    ):
        strings = await async_get_translations(hass, "en", category, [DOMAIN])
        assert strings.get(f"component.{DOMAIN}.{key}"), key


def test_issues_follow_hassfest() -> None:
    """Each issue has a title and exactly one of description or fix_flow (they are exclusive)."""
    for key, issue in STRINGS["issues"].items():
        assert issue["title"], key
        assert ("description" in issue) != ("fix_flow" in issue), key


def test_issue_placeholders_are_provided() -> None:
    """Every {placeholder} in the issue texts is one the integration fills in."""
    provided = {
        "name", "agent", "manufacturer", "brand", "model", "ip", "confidence", "regimes",
        "explanation", "version", "error", "count", "failed", "restricted", "elevated",
        "examples", "limit",
    }  # fmt: skip
    used = set(re.findall(r"\{(\w+)\}", json.dumps(STRINGS["issues"])))
    assert used <= provided
