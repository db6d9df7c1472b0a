"""Fix flow for a restricted camera: isolate it now, or acknowledge it."""

from __future__ import annotations

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .const import CONF_ACKNOWLEDGED
from .coordinator import SentinelCoordinator

ISOLATION_REASON = "restricted vendor (Home Assistant repair)"


class RestrictedCameraRepairFlow(RepairsFlow):
    """Offers "isolate now" (when the agent can) and "acknowledge" (kept in the options)."""

    def __init__(self, entry_id: str, camera_id: str) -> None:
        self.entry_id = entry_id
        self.camera_id = camera_id

    def _coordinator(self) -> SentinelCoordinator | None:
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        coordinator: SentinelCoordinator = entry.runtime_data
        return coordinator

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Show the choices."""
        coordinator = self._coordinator()
        camera = coordinator.cameras.get(self.camera_id) if coordinator else None
        if coordinator is None or camera is None:
            return self.async_abort(reason="camera_gone")
        options = ["acknowledge"]
        if coordinator.has_isolation:
            options.insert(0, "isolate")
        return self.async_show_menu(
            step_id="init",
            menu_options=options,
            description_placeholders=coordinator.alerts.placeholders(camera),
        )

    async def async_step_isolate(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Ask the agent to isolate the camera; the issue closes when it confirms."""
        coordinator = self._coordinator()
        if coordinator is None or self.camera_id not in coordinator.cameras:
            return self.async_abort(reason="camera_gone")
        try:
            await coordinator.async_command(
                "isolate", camera_id=self.camera_id, reason=ISOLATION_REASON
            )
        except HomeAssistantError as err:
            return self.async_abort(
                reason="isolation_failed", description_placeholders={"error": str(err)}
            )
        return self.async_create_entry(data={})

    async def async_step_acknowledge(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Remember that a person knows about this camera; no more alerts for it."""
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        if entry is None:
            return self.async_abort(reason="camera_gone")
        acknowledged = set(entry.options.get(CONF_ACKNOWLEDGED, ()))
        acknowledged.add(self.camera_id)
        self.hass.config_entries.async_update_entry(
            entry, options={**entry.options, CONF_ACKNOWLEDGED: sorted(acknowledged)}
        )
        return self.async_create_entry(data={})


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """Create the fix flow for one of our camera issues."""
    data = data or {}
    return RestrictedCameraRepairFlow(str(data.get("entry_id")), str(data.get("camera_id")))
