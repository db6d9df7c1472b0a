"""Optional Home Assistant MQTT-discovery payloads, for people without the custom integration.

Per camera: a binary sensor "Restricted vendor" (``device_class: problem``) and an
enum sensor "Risk", both reading the retained camera topic through a value
template, available while the agent's status is ``online`` (docs/mqtt.md).
Pure: builds topics and payloads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from cctv_sentinel.mqtt.contract import CameraPayload, Topics

DEFAULT_PREFIX: Final = "homeassistant"
RISK_OPTIONS: Final = ("restricted", "elevated", "unknown", "low")
SUPPORT_URL: Final = "https://github.com/cctv-sentinel/cctv-sentinel"


@dataclass(frozen=True, slots=True)
class Discovery:
    """Where one agent's Home Assistant discovery configs live."""

    topics: Topics
    prefix: str = DEFAULT_PREFIX

    def node_id(self, camera_id: str) -> str:
        """The discovery node id of a camera: ``cctv_sentinel_<agent_id>_<camera_id>``."""
        return f"cctv_sentinel_{self.topics.agent_id}_{camera_id}"

    def config_topics(self, camera_id: str) -> tuple[str, str]:
        """The binary-sensor and sensor config topics of one camera."""
        node = self.node_id(camera_id)
        return (
            f"{self.prefix}/binary_sensor/{node}/restricted/config",
            f"{self.prefix}/sensor/{node}/risk/config",
        )

    def configs(self, camera: CameraPayload, version: str) -> dict[str, dict[str, Any]]:
        """Config topic -> discovery payload for one camera's two entities."""
        camera_id = camera["camera_id"]
        node = self.node_id(camera_id)
        device: dict[str, Any] = {
            "identifiers": [node],
            "name": _device_name(camera),
        }
        if camera["manufacturer"]:
            device["manufacturer"] = camera["manufacturer"]
        if camera["model"]:
            device["model"] = camera["model"]
        if camera["firmware"]:
            device["sw_version"] = camera["firmware"]
        if camera["mac"]:
            device["connections"] = [["mac", camera["mac"]]]
        common: dict[str, Any] = {
            "state_topic": self.topics.camera(camera_id),
            "availability_topic": self.topics.status,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": {"name": "CCTV Sentinel", "sw_version": version, "support_url": SUPPORT_URL},
        }
        restricted_topic, risk_topic = self.config_topics(camera_id)
        return {
            restricted_topic: {
                "name": "Restricted vendor",
                "unique_id": f"{node}_restricted",
                "device_class": "problem",
                "value_template": "{{ 'ON' if value_json.risk == 'restricted' else 'OFF' }}",
                **common,
            },
            risk_topic: {
                "name": "Risk",
                "unique_id": f"{node}_risk",
                "device_class": "enum",
                "options": list(RISK_OPTIONS),
                "value_template": "{{ value_json.risk }}",
                "icon": "mdi:cctv",
                **common,
            },
        }


def _device_name(camera: CameraPayload) -> str:
    """Brand and model, else the maker, else the address."""
    parts = [p for p in (camera["brand"] or camera["manufacturer"], camera["model"]) if p]
    return " ".join(parts) if parts else f"Camera {camera['ip']}"
