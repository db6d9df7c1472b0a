"""One isolate request while it is worked on: the rails, conflicts and limits, no I/O.

The manager builds a :class:`Batch`, runs the checks in order (each refuses the
targets it must, with a reason), then asks for the records to put in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cctv_sentinel.isolation.audit import Audited
from cctv_sentinel.isolation.base import Backend
from cctv_sentinel.isolation.config import DRY_RUN
from cctv_sentinel.isolation.hostinfo import IPNetwork
from cctv_sentinel.isolation.model import (
    Isolation,
    IsolationOutcome,
    IsolationTarget,
    Mode,
    Requester,
)
from cctv_sentinel.isolation.protected import ProtectedAddresses
from cctv_sentinel.isolation.rails import RateLimit, refusal


@dataclass(slots=True)
class Batch:
    """The targets of one isolate request, and what has been decided about each."""

    targets: list[IsolationTarget]
    mode: Mode
    backend: Backend
    dry: bool
    requester: Requester
    reason: str | None
    now: float = 0.0
    outcomes: dict[int, IsolationOutcome] = field(default_factory=dict)
    audited: list[Audited] = field(default_factory=list)
    matches: dict[int, list[Isolation]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The backend name recorded in the audit log."""
        return DRY_RUN if self.dry else self.backend.name

    def pending(self) -> list[int]:
        """Targets not yet refused."""
        return [i for i in range(len(self.targets)) if i not in self.outcomes]

    def refuse(self, index: int, message: str) -> None:
        """Refuse one target with a reason."""
        text = f"refused: {message}"
        self.outcomes[index] = IsolationOutcome("refused", text)
        self.audited.append(self.audit(index, "refused", text, event=not self.dry))

    def audit(self, index: int, status: str, message: str, *, event: bool = True) -> Audited:
        """An audit entry about one target."""
        return Audited.of(
            "isolate",
            status,
            message,
            self.targets[index],
            mode=self.mode,
            backend=self.name,
            requested_by=self.requester,
            reason=self.reason,
            event=event,
        )

    def results(self) -> list[IsolationOutcome]:
        """Outcomes in request order (every target must have one by now)."""
        return [self.outcomes[i] for i in range(len(self.targets))]

    # the checks, in order ------------------------------------------------------------------

    def check_targets(
        self, protected: ProtectedAddresses, local: Sequence[IPNetwork], *, confirm: bool
    ) -> None:
        """Rails per device, then the several-at-once confirmation."""
        for i, target in enumerate(self.targets):
            problem = refusal(target, protected, local)
            if problem is None and not self.backend.matches_mac and not target.ips:
                problem = (
                    f"the {self.backend.name} backend matches IP addresses only,"
                    f" and {target.label} has none"
                )
            if problem is not None:
                self.refuse(i, problem)
        pending = self.pending()
        if len(pending) > 1 and not confirm:
            for i in pending:
                self.refuse(i, f"isolating {len(pending)} devices at once needs confirmation")

    def check_conflicts(self, entries: Sequence[Isolation]) -> None:
        """Find each device's existing isolations; refuse one held by another backend."""
        for i in self.pending():
            t = self.targets[i]
            found = [e for e in entries if e.key == t.key or t.matches(e.camera_id, e.ips, e.mac)]
            other = [e for e in found if e.backend != self.backend.name]
            if other and not self.dry:
                self.refuse(
                    i, f"{t.label} is already isolated with {other[0].backend}; release it first"
                )
                continue
            self.matches[i] = found

    def _already(self, index: int) -> list[Isolation]:
        return [e for e in self.matches[index] if e.state == "isolated" and e.mode == self.mode]

    def check_capacity(self, rate: RateLimit, existing: int, maximum: int) -> None:
        """The rate limit and the cap on isolations, for devices not isolated yet."""
        if self.dry:
            return
        new = [i for i in self.pending() if not self._already(i)]
        if not new:
            return
        problem = None
        if len(new) > rate.room(self.now):
            wait = rate.retry_after(self.now)
            problem = (
                f"rate limit: at most {rate.limit} isolations per"
                f" {rate.period:g} s (try again in {wait:.0f} s)"
            )
        elif existing + len(new) > maximum:
            problem = f"more than {maximum} isolations"
        if problem is not None:
            for i in self.pending():
                self.refuse(i, problem)

    def records(self) -> tuple[dict[int, Isolation], set[str]]:
        """The isolations to put in force, and the keys of the records they replace."""
        records: dict[int, Isolation] = {}
        replaced: set[str] = set()
        for i in self.pending():
            previous = self._already(i)
            replaced.update(e.key for e in self.matches[i])
            t = self.targets[i]
            records[i] = Isolation(
                key=t.key,
                camera_id=t.camera_id,
                ips=t.ips,
                mac=t.mac,
                mode=self.mode,
                backend=self.backend.name,
                state="isolated",
                since=previous[0].since if previous else self.now,
                updated=self.now,
                requested_by=self.requester,
                reason=self.reason,
            )
        return records, replaced
