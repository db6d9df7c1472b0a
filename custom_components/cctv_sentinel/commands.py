"""Commands to one agent: publish, wait for the matching result, turn failures into errors.

The agent answers every command payload exactly once on ``.../command/result``
(docs/mqtt.md), echoing the ``command_id`` we chose; results for ids we did not
send (another Home Assistant, the CLI) are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Final

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from . import const, signing
from .const import DOMAIN
from .models import CommandResult, build_command, encode

_LOGGER = logging.getLogger(__package__)

QOS: Final = 1


class CommandChannel:
    """Sends commands on one agent's command topic and pairs them with their results."""

    def __init__(
        self,
        hass: HomeAssistant,
        topic: str,
        agent_name: str,
        secret: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.hass = hass
        self.topic = topic
        self.agent_name = agent_name
        self.secret = secret
        """The shared secret commands are signed with (read at each send), or None."""
        self.pending: dict[str, asyncio.Future[CommandResult]] = {}

    def _error(self, key: str, command: str, message: str | None = None) -> HomeAssistantError:
        placeholders = {"agent": self.agent_name, "command": command}
        if message is not None:
            placeholders["message"] = message[:256]
        return HomeAssistantError(
            translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
        )

    async def async_send(
        self,
        command: str,
        *,
        available: bool,
        camera_id: str | None = None,
        mode: str | None = None,
        reason: str | None = None,
        user_id: str | None = None,
        user_name: str | None = None,
    ) -> CommandResult:
        """Publish a command, wait for its result; raise HomeAssistantError unless it succeeded."""
        if not available:
            raise self._error("agent_unavailable", command)
        payload = build_command(
            command,
            camera_id=camera_id,
            mode=mode,
            reason=reason,
            user_id=user_id,
            user_name=user_name,
        )
        secret = self.secret()
        if secret:
            payload = signing.sign(
                payload, topic=self.topic, secret=secret, now=time.time(), nonce=uuid.uuid4().hex
            )
        else:
            payload = signing.stamp(payload, now=time.time())
        command_id: str = payload["command_id"]
        future: asyncio.Future[CommandResult] = self.hass.loop.create_future()
        self.pending[command_id] = future
        try:
            await mqtt.async_publish(self.hass, self.topic, encode(payload), QOS, False)
            async with asyncio.timeout(const.COMMAND_TIMEOUT):
                result = await future
        except TimeoutError as err:
            raise self._error("command_timeout", command) from err
        finally:
            self.pending.pop(command_id, None)
        if not result.succeeded:
            key = "not_configured" if result.status == "not_configured" else "command_failed"
            raise self._error(key, command, result.message)
        return result

    @callback
    def async_handle_result(self, result: CommandResult) -> None:
        """Hand a result to the command waiting for it, if it is ours."""
        future = self.pending.get(result.command_id or "")
        if future is None or future.done():
            _LOGGER.debug("Command result %s is not for us", result.command_id)
            return
        future.set_result(result)

    @callback
    def async_fail_all(self) -> None:
        """End every waiting command with an error (the entry is unloading)."""
        for future in self.pending.values():
            if not future.done():
                # The waiting action must fail with a reason, not be cancelled.
                future.set_exception(self._error("agent_unavailable", "command"))
        self.pending.clear()
