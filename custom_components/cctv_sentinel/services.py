"""Actions: ``cctv_sentinel.rescan``, ``cctv_sentinel.isolate``, ``cctv_sentinel.release``."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.util.json import JsonValueType

from .compat import vol
from .const import (
    ATTR_DEVICE_ID,
    ATTR_MODE,
    ATTR_REASON,
    DOMAIN,
    SERVICE_ISOLATE,
    SERVICE_RELEASE,
    SERVICE_RESCAN,
)
from .coordinator import SentinelCoordinator
from .models import ISOLATION_MODES, MAX_TEXT, CommandResult
from .text import plain

DEVICE_IDS = vol.All(cv.ensure_list, [cv.string])
REASON = vol.All(cv.string, vol.Length(max=MAX_TEXT))

RESCAN_SCHEMA = vol.Schema({vol.Optional(ATTR_DEVICE_ID): DEVICE_IDS})
ISOLATE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): DEVICE_IDS,
        vol.Optional(ATTR_MODE): vol.In(ISOLATION_MODES),
        vol.Optional(ATTR_REASON): REASON,
    }
)
RELEASE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): DEVICE_IDS,
        vol.Optional(ATTR_REASON): REASON,
    }
)


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _coordinators(hass: HomeAssistant) -> list[SentinelCoordinator]:
    return [entry.runtime_data for entry in hass.config_entries.async_loaded_entries(DOMAIN)]


def _resolve(hass: HomeAssistant, device_id: str) -> tuple[SentinelCoordinator, str | None]:
    """The loaded agent a device belongs to, and its camera id (None for the agent)."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        raise _invalid("unknown_device", device_id=device_id)
    for coordinator in _coordinators(hass):
        if coordinator.is_agent_device(device):
            return coordinator, None
        camera_id = coordinator.camera_id_of(device)
        if camera_id is not None:
            return coordinator, camera_id
    raise _invalid("not_our_device", device=plain(device.name_by_user or device.name) or device_id)


async def _requester(hass: HomeAssistant, call: ServiceCall) -> tuple[str | None, str | None]:
    """Who asked, for the agent's audit log."""
    user_id = call.context.user_id
    if user_id is None:
        return None, None
    user = await hass.auth.async_get_user(user_id)
    return user_id, user.name if user is not None else None


async def _run(jobs: list[tuple[str, Coroutine[Any, Any, CommandResult]]]) -> ServiceResponse:
    """Await every command; raise the first failure after all have finished."""
    outcomes = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
    results: list[JsonValueType] = []
    failure: BaseException | None = None
    for (device_id, _), outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            failure = failure or outcome
            continue
        results.append(
            {"device_id": device_id, "status": outcome.status, "message": outcome.message}
        )
    if failure is not None:
        raise failure
    return {"results": results}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions (once, from async_setup)."""

    async def rescan(call: ServiceCall) -> ServiceResponse:
        device_ids: list[str] | None = call.data.get(ATTR_DEVICE_ID)
        targets: dict[str, tuple[str, SentinelCoordinator]] = {}
        if device_ids:
            for device_id in device_ids:
                coordinator, _ = _resolve(hass, device_id)
                targets.setdefault(coordinator.agent_id, (device_id, coordinator))
        else:
            for coordinator in _coordinators(hass):
                targets[coordinator.agent_id] = (coordinator.devices.agent_device_id, coordinator)
        if not targets:
            raise _invalid("no_agents")
        user_id, user_name = await _requester(hass, call)
        return await _run(
            [
                (
                    device_id,
                    coordinator.async_command("rescan", user_id=user_id, user_name=user_name),
                )
                for device_id, coordinator in targets.values()
            ]
        )

    async def isolate_or_release(call: ServiceCall) -> ServiceResponse:
        command = call.service
        mode: str | None = call.data.get(ATTR_MODE)
        reason: str | None = call.data.get(ATTR_REASON)
        targets: list[tuple[str, SentinelCoordinator, str]] = []
        for device_id in dict.fromkeys(call.data[ATTR_DEVICE_ID]):  # once each
            coordinator, camera_id = _resolve(hass, device_id)
            if camera_id is None:
                raise _invalid("not_a_camera", device_id=device_id)
            if camera_id not in coordinator.cameras:
                raise _invalid("camera_not_reported", camera=camera_id, agent=coordinator.name)
            if command == SERVICE_ISOLATE:
                _check_isolation(coordinator, mode)
            targets.append((device_id, coordinator, camera_id))
        user_id, user_name = await _requester(hass, call)
        return await _run(
            [
                (
                    device_id,
                    coordinator.async_command(
                        command,
                        camera_id=camera_id,
                        mode=mode if command == SERVICE_ISOLATE else None,
                        reason=reason,
                        user_id=user_id,
                        user_name=user_name,
                    ),
                )
                for device_id, coordinator, camera_id in targets
            ]
        )

    hass.services.async_register(
        DOMAIN,
        SERVICE_RESCAN,
        rescan,
        schema=RESCAN_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    for service, schema in ((SERVICE_ISOLATE, ISOLATE_SCHEMA), (SERVICE_RELEASE, RELEASE_SCHEMA)):
        hass.services.async_register(
            DOMAIN,
            service,
            isolate_or_release,
            schema=schema,
            supports_response=SupportsResponse.OPTIONAL,
        )


def _check_isolation(coordinator: SentinelCoordinator, mode: str | None) -> None:
    """Refuse, before publishing, what the agent would certainly refuse."""
    info = coordinator.state.info
    if not coordinator.state.has_isolation or info is None:
        raise _invalid("isolation_not_configured", agent=coordinator.name)
    modes = info.isolation.modes
    if mode is not None and modes and mode not in modes:
        raise _invalid("mode_not_supported", mode=mode, agent=coordinator.name)
