"""Fix flows: a camera's repair (isolate it, or acknowledge it) and an agent's grouped repair.

The grouped repair lists every camera that needs action; a person picks some and
isolates or acknowledges them together. Labels in the pick list are plain text.
"""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from .alerts import camera_placeholders
from .compat import RepairsFlowResult, vol
from .const import CONF_ACKNOWLEDGED
from .coordinator import SentinelCoordinator
from .devices import camera_name
from .text import markdown, plain

ISOLATION_REASON = "restricted vendor (Home Assistant repair)"
ACTION_ISOLATE = "isolate"
ACTION_ACKNOWLEDGE = "acknowledge"
CONF_CAMERAS = "cameras"
CONF_ACTION = "action"


class _SentinelRepairFlow(RepairsFlow):
    """What both flows share: finding the entry, acknowledging, isolating."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id

    def _coordinator(self) -> SentinelCoordinator | None:
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        coordinator: SentinelCoordinator = entry.runtime_data
        return coordinator

    def _acknowledge(self, camera_ids: list[str]) -> RepairsFlowResult:
        """Remember that a person knows about these cameras; no more alerts for them."""
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        if entry is None:
            return self.async_abort(reason="camera_gone")
        acknowledged = set(entry.options.get(CONF_ACKNOWLEDGED, ())) | set(camera_ids)
        self.hass.config_entries.async_update_entry(
            entry, options={**entry.options, CONF_ACKNOWLEDGED: sorted(acknowledged)}
        )
        return self.async_create_entry(data={})

    async def _isolate(
        self, coordinator: SentinelCoordinator, camera_ids: list[str]
    ) -> RepairsFlowResult:
        """Ask the agent to isolate the cameras; their issues close when it confirms."""
        outcomes = await asyncio.gather(
            *(
                coordinator.async_command("isolate", camera_id=camera_id, reason=ISOLATION_REASON)
                for camera_id in camera_ids
            ),
            return_exceptions=True,
        )
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        for failure in failures:
            if not isinstance(failure, HomeAssistantError):
                raise failure
        if failures:
            return self.async_abort(
                reason="isolation_failed",
                description_placeholders={
                    "error": markdown(str(failures[0]), 300),
                    "failed": str(len(failures)),
                    "count": str(len(camera_ids)),
                },
            )
        return self.async_create_entry(data={})


class RestrictedCameraRepairFlow(_SentinelRepairFlow):
    """Offers "isolate now" (when the agent can) and "acknowledge" (kept in the options)."""

    def __init__(self, entry_id: str, camera_id: str) -> None:
        super().__init__(entry_id)
        self.camera_id = camera_id

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Show the choices."""
        coordinator = self._coordinator()
        camera = coordinator.cameras.get(self.camera_id) if coordinator else None
        if coordinator is None or camera is None:
            return self.async_abort(reason="camera_gone")
        options = [ACTION_ACKNOWLEDGE]
        if coordinator.state.has_isolation:
            options.insert(0, ACTION_ISOLATE)
        return self.async_show_menu(
            step_id="init",
            menu_options=options,
            description_placeholders=camera_placeholders(coordinator.state, camera),
        )

    async def async_step_isolate(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Isolate this camera."""
        coordinator = self._coordinator()
        if coordinator is None or self.camera_id not in coordinator.cameras:
            return self.async_abort(reason="camera_gone")
        return await self._isolate(coordinator, [self.camera_id])

    async def async_step_acknowledge(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Acknowledge this camera."""
        return self._acknowledge([self.camera_id])


class GroupedCamerasRepairFlow(_SentinelRepairFlow):
    """Pick cameras among those needing action, then isolate or acknowledge them."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """The pick list and the action."""
        coordinator = self._coordinator()
        if coordinator is None:
            return self.async_abort(reason="camera_gone")
        needing = coordinator.state.needing_repair()
        errors: dict[str, str] = {}
        if user_input is not None:
            picked = [c for c in user_input.get(CONF_CAMERAS, ()) if c in coordinator.cameras]
            if not picked:
                errors[CONF_CAMERAS] = "none_picked"
            elif user_input[CONF_ACTION] == ACTION_ISOLATE and coordinator.state.has_isolation:
                return await self._isolate(coordinator, picked)
            else:
                return self._acknowledge(picked)
        actions = [ACTION_ACKNOWLEDGE]
        if coordinator.state.has_isolation:
            actions.insert(0, ACTION_ISOLATE)
        schema = vol.Schema(
            {
                vol.Required(CONF_CAMERAS): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            SelectOptionDict(
                                value=camera.camera_id,
                                label=f"{camera_name(camera)} ({camera.ip}),"
                                f" {plain(camera.manufacturer) or '?'}"
                                f" ({coordinator.state.policy.risk(camera)})",
                            )
                            for camera in needing
                        ],
                        multiple=True,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                vol.Required(CONF_ACTION, default=actions[0]): SelectSelector(
                    SelectSelectorConfig(
                        options=actions,
                        translation_key="repair_action",
                        mode=SelectSelectorMode.LIST,
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "agent": markdown(coordinator.name),
                "count": str(len(needing)),
            },
        )


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """The fix flow for one of our issues: per camera, or grouped (no camera id)."""
    data = data or {}
    camera_id = data.get("camera_id")
    if camera_id is None:
        return GroupedCamerasRepairFlow(str(data.get("entry_id")))
    return RestrictedCameraRepairFlow(str(data.get("entry_id")), str(camera_id))
