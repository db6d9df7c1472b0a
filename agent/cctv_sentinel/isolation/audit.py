"""Audit entries and the events made from them.

Every action (isolate, release, reset, re-apply), refused or not, becomes one
audit row in SQLite; the ones that change or fail to change a device also
become events, which the service publishes on ``<base>/<agent_id>/event``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cctv_sentinel._util.timefmt import iso
from cctv_sentinel.isolation.config import DRY_RUN
from cctv_sentinel.isolation.model import AuditRecord, Isolation, IsolationTarget, Requester
from cctv_sentinel.isolation.store import AuditEntry

_EVENT_FOR: Final[Mapping[tuple[str, str], str]] = {
    ("isolate", "ok"): "isolation_applied",
    ("isolate", "refused"): "isolation_failed",
    ("isolate", "error"): "isolation_failed",
    ("release", "ok"): "isolation_released",
    ("release", "error"): "isolation_failed",
    ("reset", "ok"): "isolation_released",
    ("reapply", "ok"): "isolation_applied",
    ("reapply", "error"): "isolation_failed",
}


@dataclass(frozen=True, slots=True)
class Audited:
    """One action to audit, before it becomes an audit row and maybe an event."""

    action: str
    status: str
    message: str
    camera_id: str | None
    ips: tuple[str, ...]
    mac: str | None
    mode: str | None
    backend: str | None
    requested_by: Requester
    reason: str | None
    event: bool = True

    @classmethod
    def of(
        cls,
        action: str,
        status: str,
        message: str,
        target: IsolationTarget | Isolation,
        *,
        mode: str | None,
        backend: str | None,
        requested_by: Requester,
        reason: str | None,
        event: bool = True,
    ) -> Audited:
        """An entry about one device."""
        return cls(
            action=action,
            status=status,
            message=message,
            camera_id=target.camera_id or target.key,
            ips=tuple(target.ips),
            mac=target.mac,
            mode=mode,
            backend=backend,
            requested_by=requested_by,
            reason=reason,
            event=event,
        )

    def entry(self, now: float) -> AuditEntry:
        """The row to write."""
        return AuditEntry(
            time=now,
            action=self.action,
            camera_id=self.camera_id,
            ips=self.ips,
            mac=self.mac,
            mode=self.mode,
            backend=self.backend,
            requested_by=self.requested_by,
            reason=self.reason,
            status=self.status,
            message=self.message,
        )

    def record(self, audit_id: int, now: float) -> AuditRecord:
        """The row as written, with its id."""
        return AuditRecord(
            id=audit_id,
            time=now,
            action=self.action,
            camera_id=self.camera_id,
            ips=self.ips,
            mac=self.mac,
            mode=self.mode,
            backend=self.backend,
            requested_by=self.requested_by,
            reason=self.reason,
            status=self.status,
            message=self.message,
        )


def event_payload(record: AuditRecord) -> dict[str, Any] | None:
    """The event for an audit row, or None when the row is not one (dry runs, no-ops).

    Shape: ``type`` (``isolation_applied``/``_released``/``_failed``), ``time``
    (ISO 8601), ``camera_id`` and ``details`` (action, status, mode, backend,
    requested_by, reason, message, ip, ips, mac, audit_id): the service adds
    ``schema_version``, ``event_id``, ``camera`` and ``changes``.
    """
    kind = _EVENT_FOR.get((record.action, record.status))
    if kind is None or record.backend == DRY_RUN:
        return None
    return {
        "type": kind,
        "time": iso(record.time),
        "camera_id": record.camera_id,
        "details": {
            "action": record.action,
            "status": record.status,
            "mode": record.mode,
            "backend": record.backend,
            "requested_by": record.requested_by.to_json(),
            "reason": record.reason,
            "message": record.message,
            "ip": record.ips[0] if record.ips else None,
            "ips": list(record.ips),
            "mac": record.mac,
            "audit_id": record.id,
        },
    }
