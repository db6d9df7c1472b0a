"""Commands from MQTT, and the service's one door to isolation.

:class:`IsolationPort` is the only place the service touches
``cctv_sentinel.isolation``: it builds the manager from the config's opaque
``isolation:`` mapping, turns camera records into isolation targets, and the
manager's states and events into the contract's shapes. Without an
``isolation:`` section every isolation command answers ``not_configured``.

:class:`CommandRouter` turns one command payload into exactly one result:
parse (malformed or unknown commands get ``error``), then rescan, isolate or
release. It never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from cctv_sentinel._util.timefmt import iso_or_none
from cctv_sentinel.errors import SentinelError
from cctv_sentinel.inventory.records import CameraRecord
from cctv_sentinel.isolation import (
    IsolationManager,
    IsolationOutcome,
    IsolationState,
    IsolationTarget,
    ProtectedAddresses,
    Requester,
)
from cctv_sentinel.mqtt import contract
from cctv_sentinel.mqtt.contract import (
    CameraIsolation,
    Command,
    CommandError,
    CommandResult,
    IsolationInfo,
    ResultStatus,
)

_LOG = logging.getLogger(__name__)

_STATUS: Final[Mapping[str, ResultStatus]] = {
    "ok": "ok",
    "refused": "refused",
    "error": "error",
    "not_configured": "not_configured",
}


def _camera_isolation(state: IsolationState) -> CameraIsolation:
    mode = state.mode if state.mode in contract.MODES else None
    return {
        "state": state.state,
        "mode": mode,
        "backend": state.backend,
        "since": iso_or_none(state.since),
    }


def target_of(record: CameraRecord) -> IsolationTarget:
    """The isolation target of a camera: its id, address and MAC."""
    return IsolationTarget.of(camera_id=record.camera_id, ip=record.ip, mac=record.mac)


class IsolationPort:
    """The isolation manager as the service sees it (absent config = not configured)."""

    def __init__(self, manager: IsolationManager) -> None:
        self.manager = manager

    @classmethod
    def create(
        cls,
        config: Mapping[str, Any] | None,
        *,
        state_dir: Path,
        broker_host: str | None,
    ) -> IsolationPort:
        """Build the manager (blocking: reads the host's routes and resolvers; use a thread).

        Raises ConfigError naming the key when the ``isolation:`` mapping is invalid.
        """
        # The manager adds the config's never_isolate allowlist itself.
        protected = (
            ProtectedAddresses()
            if config is None
            else ProtectedAddresses.from_host(broker=broker_host)
        )
        manager = IsolationManager.from_config(config, state_dir=state_dir, protected=protected)
        return cls(manager)

    @staticmethod
    def check(config: Mapping[str, Any] | None) -> list[str]:
        """Problems with an ``isolation:`` mapping, one line each (for check-config)."""
        if config is None:
            return []
        try:
            IsolationManager.from_config(
                config, state_dir=Path("/nonexistent"), protected=ProtectedAddresses()
            )
        except (SentinelError, ValueError) as err:
            text = str(err)
            return [text if text.startswith("isolation") else f"isolation: {text}"]
        return []

    @property
    def configured(self) -> bool:
        """False when there is no ``isolation:`` section."""
        return self.manager.configured

    def info(self) -> IsolationInfo:
        """The ``isolation`` object of the info payload."""
        raw = self.manager.info()
        return {
            "backends": [str(b) for b in raw.get("backends", [])],
            "default_backend": raw.get("default_backend"),
            "modes": [m for m in raw.get("modes", []) if m in contract.MODES],
            "auto_isolate": bool(raw.get("auto_isolate", False)),
        }

    def state(self, record: CameraRecord) -> CameraIsolation:
        """A camera's ``isolation`` object."""
        return _camera_isolation(self.manager.state_for(record.camera_id, record.ip, record.mac))

    def isolated(self, records: Sequence[CameraRecord]) -> int:
        """How many of these cameras are isolated."""
        return sum(
            1
            for r in records
            if self.manager.state_for(r.camera_id, r.ip, r.mac).state == "isolated"
        )

    def on_event(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Forward the manager's audited actions (see isolation.audit.event_payload)."""
        self.manager.on_event(callback)

    async def start(self) -> None:
        """Re-apply persisted isolation (at agent start)."""
        await self.manager.reapply()
        await self.refresh()

    async def refresh(self) -> None:
        """Pick up changes another process (the CLI) made."""
        try:
            await self.manager.refresh()
        except SentinelError as err:
            _LOG.warning("cannot read the isolation state: %s", err)

    async def isolate(self, record: CameraRecord, command: Command) -> IsolationOutcome:
        """Isolate one camera as a command asks."""
        return await self.manager.isolate(
            target_of(record),
            mode=command.mode,
            backend=command.backend,
            requested_by=_requester(command),
            reason=command.reason,
        )

    async def release(self, record: CameraRecord, command: Command) -> IsolationOutcome:
        """Release one camera as a command asks."""
        return await self.manager.release(
            target_of(record),
            backend=command.backend,
            requested_by=_requester(command),
            reason=command.reason,
        )

    async def auto_isolate(self, records: Sequence[CameraRecord]) -> None:
        """Offer newly restricted cameras to automatic isolation (off unless configured)."""
        if not records or not self.configured:
            return
        try:
            await self.manager.auto_isolate([target_of(r) for r in records])
        except (SentinelError, ValueError) as err:
            _LOG.warning("automatic isolation failed: %s", err)

    async def close(self) -> None:
        """Close backends and the isolation database."""
        await self.manager.close()


def _requester(command: Command) -> Requester:
    who = command.requested_by
    return Requester(who.source, who.user_id, who.user_name)


@dataclass(frozen=True, slots=True)
class Rescan:
    """What asking for a rescan did."""

    status: Literal["accepted", "error"]
    message: str


class CommandRouter:
    """One command payload in, exactly one result out."""

    def __init__(
        self,
        *,
        port: IsolationPort,
        camera: Callable[[str], CameraRecord | None],
        rescan: Callable[[], Rescan],
        clock: Callable[[], float],
    ) -> None:
        self.port = port
        self.camera = camera
        self.rescan = rescan
        self.clock = clock

    def _result(
        self,
        status: ResultStatus,
        message: str,
        *,
        command_id: str | None,
        command: str | None,
        camera_id: str | None = None,
    ) -> CommandResult:
        return contract.command_result(
            command_id=command_id,
            command=command,
            status=status,
            message=message,
            camera_id=camera_id,
            time=self.clock(),
        )

    def refuse(self, payload: bytes, message: str) -> CommandResult:
        """An error result for a payload that will not be handled (busy, retained...)."""
        try:
            parsed = contract.parse_command(payload)
        except CommandError as err:
            return self._result("error", message, command_id=err.command_id, command=err.command)
        return self._result(
            "error",
            message,
            command_id=parsed.command_id,
            command=parsed.command,
            camera_id=parsed.camera_id,
        )

    async def handle(self, payload: bytes) -> CommandResult:
        """Parse and obey one command; never raises."""
        try:
            command = contract.parse_command(payload)
        except CommandError as err:
            return self._result(
                "error", err.message, command_id=err.command_id, command=err.command
            )
        try:
            return await self._obey(command)
        except Exception as err:  # noqa: BLE001  (task boundary: answer, keep the agent running)
            _LOG.exception("command %s failed", command.command)
            return self._result(
                "error",
                f"{command.command} failed: {type(err).__name__}",
                command_id=command.command_id,
                command=command.command,
                camera_id=command.camera_id,
            )

    async def _obey(self, command: Command) -> CommandResult:
        ids = {"command_id": command.command_id, "command": command.command}
        if command.command == "rescan":
            done = self.rescan()
            return self._result(done.status, done.message, **ids)
        camera_id = command.camera_id
        assert camera_id is not None  # parse_command requires it for isolate/release
        if not self.port.configured:
            return self._result(
                "not_configured",
                "no isolation backend is configured on this agent",
                camera_id=camera_id,
                **ids,
            )
        record = self.camera(camera_id)
        if record is None:
            return self._result(
                "error",
                f"camera {camera_id} is not known to this agent",
                camera_id=camera_id,
                **ids,
            )
        if command.command == "isolate":
            outcome = await self.port.isolate(record, command)
        else:
            outcome = await self.port.release(record, command)
        return self._result(
            _STATUS.get(outcome.status, "error"), outcome.message, camera_id=camera_id, **ids
        )
