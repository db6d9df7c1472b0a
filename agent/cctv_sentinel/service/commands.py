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
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from cctv_sentinel._util.secret import Secret
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
from cctv_sentinel.isolation.rails import RateLimit
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

MAX_NONCES: Final = 4096
"""Nonces of signed commands remembered for the replay window.

A nonce needs remembering only while its (signed) ``sent_at`` is inside the
window; when this many are still live, further signed commands are refused
until some expire (never forgotten early, which would let a replay through).
"""

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

    async def isolate(
        self, record: CameraRecord, command: Command, requester: Requester
    ) -> IsolationOutcome:
        """Isolate one camera as a command asks."""
        return await self.manager.isolate(
            target_of(record),
            mode=command.mode,
            backend=command.backend,
            requested_by=requester,
            reason=command.reason,
        )

    async def release(
        self, record: CameraRecord, command: Command, requester: Requester
    ) -> IsolationOutcome:
        """Release one camera as a command asks."""
        return await self.manager.release(
            target_of(record),
            backend=command.backend,
            requested_by=requester,
            reason=command.reason,
        )

    def release_limit(self) -> RateLimit:
        """The isolation rate limit's numbers, for releases asked over MQTT."""
        settings = self.manager.settings
        if settings is None:
            return RateLimit(1, 1.0)
        return RateLimit(settings.rate_max, settings.rate_period)

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


UNVERIFIED: Final = " (unverified)"
"""Appended to a requester's name when nothing proves who sent the command."""


def requester_of(command: Command, *, verified: bool) -> Requester:
    """Who the audit log names: as claimed when signed, else an unverified MQTT client."""
    who = command.requested_by
    if verified:
        return Requester(who.source, who.user_id, who.user_name)
    claimed = who.user_name or who.user_id
    return Requester("mqtt", who.user_id, f"{claimed}{UNVERIFIED}" if claimed else None)


@dataclass(frozen=True, slots=True)
class Authority:
    """What checking a command's authority found."""

    refusal: str | None
    """Why the command is refused, or None."""
    verified: bool
    """True when a valid signature proves the sender holds the shared secret."""


class CommandAuthority:
    """Signature, age and replay checks of commands (docs/security.md).

    Without a secret, commands are authorised by the broker's ACL alone: they
    are obeyed unless their ``sent_at`` is outside the window, and who they say
    sent them is recorded as unverified. With a secret, only commands signed
    with it for this agent's command topic, sent within the window and never
    seen before are obeyed.
    """

    def __init__(
        self,
        *,
        topic: str,
        secret: Secret | None,
        max_age: float,
        clock: Callable[[], float],
        max_nonces: int = MAX_NONCES,
    ) -> None:
        self.topic = topic
        self._key = secret.reveal().strip().encode("utf-8") if secret is not None else None
        self.max_age = max_age
        self.clock = clock
        self.max_nonces = max_nonces
        self._nonces: OrderedDict[str, float] = OrderedDict()

    @property
    def requires_signature(self) -> bool:
        """True when a shared secret is configured."""
        return self._key is not None

    def check(self, command: Command) -> Authority:
        """Whether to obey ``command``; remembers the nonce of an accepted signed command."""
        now = self.clock()
        if self._key is None:
            return Authority(self._stale(command, now), verified=False)
        if command.signature is None:
            return Authority("unsigned command: this agent obeys only signed commands", False)
        if command.sent_at is None or command.nonce is None:
            return Authority("a signed command needs sent_at and nonce", False)
        if not contract.signature_valid(command, topic=self.topic, secret=self._key):
            return Authority("bad signature: not signed with this agent's secret", False)
        stale = self._stale(command, now)
        if stale is not None:
            return Authority(stale, False)
        self._expire(now)
        if command.nonce in self._nonces:
            return Authority("replayed command: its nonce was used already", False)
        if len(self._nonces) >= self.max_nonces:
            return Authority(
                f"more than {self.max_nonces} signed commands within {self.max_age:g} s;"
                " try again shortly",
                False,
            )
        # Live at most until its sent_at leaves the window: sent_at <= now + max_age.
        self._nonces[command.nonce] = now + 2 * self.max_age
        return Authority(None, verified=True)

    def _stale(self, command: Command, now: float) -> str | None:
        if command.sent_at is None:
            return None
        age = now - command.sent_at
        if abs(age) <= self.max_age:
            return None
        when = f"{age:.0f} s ago" if age > 0 else f"{-age:.0f} s in the future"
        return f"stale command: sent {when} (accepted within {self.max_age:g} s)"

    def _expire(self, now: float) -> None:
        while self._nonces:
            nonce, until = next(iter(self._nonces.items()))
            if until > now:
                break
            del self._nonces[nonce]


def _who(requester: Requester) -> str:
    name = requester.user_name or requester.user_id
    return f"{requester.source} {name}" if name else requester.source


@dataclass(frozen=True, slots=True)
class Rescan:
    """What asking for a rescan did."""

    status: Literal["accepted", "refused", "error"]
    message: str
    started: bool = True
    """False when the request joined a scan already running or due (coalesced)."""


RescanFunction = Callable[[float], Rescan]
"""Ask for a full scan; the argument is how many seconds the rate limit still asks to wait
(0: a new scan may start). A scan already running or due is joined whatever the wait."""


class CommandRouter:
    """One command payload in, exactly one result out."""

    def __init__(
        self,
        *,
        port: IsolationPort,
        camera: Callable[[str], CameraRecord | None],
        rescan: RescanFunction,
        clock: Callable[[], float],
        authority: CommandAuthority | None = None,
        rescan_min_interval: float = 0.0,
    ) -> None:
        self.port = port
        self.camera = camera
        self.rescan = rescan
        self.clock = clock
        self.authority = authority or CommandAuthority(
            topic="", secret=None, max_age=float("inf"), clock=clock
        )
        self.rescan_min_interval = rescan_min_interval
        self._last_rescan: float | None = None
        self._releases = port.release_limit()

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
            result = self._result("error", message, command_id=err.command_id, command=err.command)
            _log(result, None)
            return result
        result = self._result(
            "error",
            message,
            command_id=parsed.command_id,
            command=parsed.command,
            camera_id=parsed.camera_id,
        )
        _log(result, requester_of(parsed, verified=False))
        return result

    async def handle(self, payload: bytes) -> CommandResult:
        """Parse, check and obey one command; log it and its result; never raises."""
        try:
            command = contract.parse_command(payload)
        except CommandError as err:
            result = self._result(
                "error", err.message, command_id=err.command_id, command=err.command
            )
            _log(result, None)
            return result
        authority = self.authority.check(command)
        requester = requester_of(command, verified=authority.verified)
        if authority.refusal is not None:
            result = self._result(
                "refused",
                authority.refusal,
                command_id=command.command_id,
                command=command.command,
                camera_id=command.camera_id,
            )
        else:
            try:
                result = await self._obey(command, requester)
            except Exception as err:  # noqa: BLE001  (task boundary: answer, keep the agent running)
                _LOG.exception("command %s failed", command.command)
                result = self._result(
                    "error",
                    f"{command.command} failed: {type(err).__name__}",
                    command_id=command.command_id,
                    command=command.command,
                    camera_id=command.camera_id,
                )
        _log(result, requester, signed=authority.verified)
        return result

    def _rescan_wait(self, now: float) -> float:
        if self._last_rescan is None:
            return 0.0
        return max(0.0, self._last_rescan + self.rescan_min_interval - now)

    async def _obey(self, command: Command, requester: Requester) -> CommandResult:
        ids = {"command_id": command.command_id, "command": command.command}
        if command.command == "rescan":
            now = self.clock()
            done = self.rescan(self._rescan_wait(now))
            if done.status == "accepted" and done.started:
                self._last_rescan = now
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
            outcome = await self.port.isolate(record, command, requester)
        else:
            now = self.clock()
            if self._releases.room(now) < 1:
                limit = self._releases
                return self._result(
                    "refused",
                    f"rate limit: at most {limit.limit} releases per {limit.period:g} s"
                    f" (try again in {limit.retry_after(now):.0f} s)",
                    camera_id=camera_id,
                    **ids,
                )
            outcome = await self.port.release(record, command, requester)
            if outcome.status == "ok":
                self._releases.record(1, now)
        return self._result(
            _STATUS.get(outcome.status, "error"), outcome.message, camera_id=camera_id, **ids
        )


def _log(result: CommandResult, requester: Requester | None, *, signed: bool = False) -> None:
    """One INFO line per command: what, for which camera, from whom, and what came of it."""
    what = result["command"] or "command"
    camera = f" {result['camera_id']}" if result["camera_id"] else ""
    who = f" from {_who(requester)}" if requester is not None else ""
    how = " (signed)" if signed else ""
    _LOG.info(
        "%s%s%s%s [%s]: %s: %s",
        what,
        camera,
        who,
        how,
        result["command_id"] or "no id",
        result["status"],
        result["message"],
    )
