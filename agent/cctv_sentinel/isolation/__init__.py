"""Network isolation of cameras: nftables, a MikroTik router, or a dry run; safe and reversible.

The service and the CLI use :class:`IsolationManager`; everything else here is
its parts. See docs/isolation.md for what each mode blocks and how to deploy.
"""

from __future__ import annotations

from cctv_sentinel.isolation.audit import event_payload
from cctv_sentinel.isolation.manager import IsolationManager
from cctv_sentinel.isolation.model import (
    MODES,
    NOT_ISOLATED,
    AuditRecord,
    Isolation,
    IsolationOutcome,
    IsolationState,
    IsolationTarget,
    Mode,
    Requester,
    camera_id_for,
)
from cctv_sentinel.isolation.protected import ProtectedAddresses

__all__ = [
    "MODES",
    "NOT_ISOLATED",
    "AuditRecord",
    "Isolation",
    "IsolationManager",
    "IsolationOutcome",
    "IsolationState",
    "IsolationTarget",
    "Mode",
    "ProtectedAddresses",
    "Requester",
    "camera_id_for",
    "event_payload",
]
