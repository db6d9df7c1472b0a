"""The estate: every agent loaded in this Home Assistant, as one picture with one limit.

A council runs one agent per site or VLAN; Home Assistant loads one config entry
per agent. This module counts cameras across them (a camera two agents see, a
recorder reachable from two VLANs, has one camera id and counts once), holds the
estate-wide camera cap, and says which entry carries the estate's sensors (the
first loaded; when it unloads, the next one takes them over).

Pure bookkeeping: the coordinators tell it what they hold; it calls nobody but the
holder-change callbacks the sensor platforms register.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from homeassistant.core import HomeAssistant, callback

from .const import DOMAIN
from .models import RISK_RESTRICTED, RISKS, Camera
from .pacing import Pacer
from .state import AgentState

MAX_ESTATE_CAMERAS: Final = 10_000
"""Most distinct cameras Home Assistant follows across all agents (each agent may
report up to coordinator.MAX_CAMERAS): past this, new cameras are refused and a
repair says so, instead of a flood filling the device registry."""


class Member(Protocol):
    """What the estate needs of an agent's coordinator."""

    @property
    def entry_id(self) -> str:
        """The agent's config entry."""

    @property
    def cameras(self) -> Mapping[str, Camera]:
        """The cameras the agent reports, by id."""

    @property
    def state(self) -> AgentState:
        """The agent's state and the user's policy."""


@dataclass(frozen=True, slots=True)
class Totals:
    """Distinct cameras across every loaded agent."""

    cameras: int
    restricted: int
    isolated: int
    agents: int
    by_risk: dict[str, int]
    """Cameras per risk level (every level present), by the first agent that reports each."""


class Estate:
    """Every loaded agent of this Home Assistant."""

    def __init__(self) -> None:
        self.coordinators: dict[str, Member] = {}
        """entry id → coordinator, in the order they were loaded."""
        self._sightings: Counter[str] = Counter()
        """camera id → how many agents report it."""
        self._holder_listeners: dict[str, Callable[[], None]] = {}
        self._totals: Totals | None = None
        """The last counts, until an agent says something changed."""
        self.pacers: set[Pacer] = set()
        """The agents' pacers with slices due now: they share each loop turn's time."""

    @property
    def holder(self) -> str | None:
        """The entry id that carries the estate's sensors (the first loaded)."""
        return next(iter(self.coordinators), None)

    @property
    def limit(self) -> int:
        """The estate's camera cap."""
        return MAX_ESTATE_CAMERAS

    @callback
    def join(self, coordinator: Member) -> None:
        """An agent's entry has loaded."""
        self.coordinators[coordinator.entry_id] = coordinator
        self.changed()

    @callback
    def changed(self) -> None:
        """Some agent's cameras changed: the totals are counted again when next asked."""
        self._totals = None

    @callback
    def leave(self, coordinator: Member) -> None:
        """An agent's entry unloads: its cameras leave the counts; the holder may change."""
        was_holder = self.holder == coordinator.entry_id
        self.coordinators.pop(coordinator.entry_id, None)
        for camera_id in coordinator.cameras:
            self.release(camera_id)
        self.changed()
        self._holder_listeners.pop(coordinator.entry_id, None)
        if was_holder and (holder := self.holder) is not None:
            listener = self._holder_listeners.get(holder)
            if listener is not None:
                listener()

    @callback
    def on_holder(self, entry_id: str, listener: Callable[[], None]) -> None:
        """Call ``listener`` when ``entry_id`` becomes the holder after another unloads."""
        self._holder_listeners[entry_id] = listener

    @callback
    def admit(self, camera_id: str) -> bool:
        """A new camera of one agent: counted, unless it would pass the estate's cap."""
        if camera_id not in self._sightings and len(self._sightings) >= MAX_ESTATE_CAMERAS:
            return False
        self._sightings[camera_id] += 1
        return True

    @callback
    def release(self, camera_id: str) -> None:
        """One agent no longer reports the camera."""
        if self._sightings[camera_id] <= 1:
            self._sightings.pop(camera_id, None)
        else:
            self._sightings[camera_id] -= 1

    def totals(self) -> Totals:
        """The estate's counts, each camera once however many agents see it."""
        if self._totals is None:
            self._totals = self._count()
        return self._totals

    def _count(self) -> Totals:
        restricted: set[str] = set()
        isolated: set[str] = set()
        risks: dict[str, str] = {}
        for coordinator in self.coordinators.values():
            policy = coordinator.state.policy
            for camera_id, camera in coordinator.cameras.items():
                risk = policy.risk(camera)
                risks.setdefault(camera_id, risk)
                if risk == RISK_RESTRICTED:
                    restricted.add(camera_id)
                if camera.isolated:
                    isolated.add(camera_id)
        counted = Counter(risks.values())
        return Totals(
            cameras=len(risks),
            restricted=len(restricted),
            isolated=len(isolated),
            agents=len(self.coordinators),
            by_risk={risk: counted.get(risk, 0) for risk in RISKS},
        )


def estate_of(hass: HomeAssistant) -> Estate:
    """This Home Assistant's estate (created on first use)."""
    estate: Estate | None = hass.data.get(DOMAIN)
    if estate is None:
        estate = hass.data[DOMAIN] = Estate()
    return estate
