"""The topics of one agent (docs/mqtt.md, Topics)."""

from __future__ import annotations

from dataclasses import dataclass

from cctv_sentinel.mqtt.contract.common import CAMERA_ID_RE


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one agent (docs/mqtt.md, Topics)."""

    base: str
    agent_id: str

    @property
    def discovery(self) -> str:
        """``<base>/discovery/<agent_id>``: the retained announcement."""
        return f"{self.base}/discovery/{self.agent_id}"

    @property
    def root(self) -> str:
        """``<base>/<agent_id>``: the prefix of every other topic."""
        return f"{self.base}/{self.agent_id}"

    @property
    def status(self) -> str:
        """``online``/``offline``, retained, and the last will."""
        return f"{self.root}/status"

    @property
    def info(self) -> str:
        """The retained info document."""
        return f"{self.root}/info"

    @property
    def history(self) -> str:
        """The retained daily progress (mqtt/contract/history.py)."""
        return f"{self.root}/history"

    @property
    def camera_filter(self) -> str:
        """Subscription filter for every camera of this agent."""
        return f"{self.root}/camera/+"

    def camera(self, camera_id: str) -> str:
        """The retained topic of one camera."""
        return f"{self.root}/camera/{camera_id}"

    def camera_id_of(self, topic: str) -> str | None:
        """The camera id of a camera topic, or None for any other topic."""
        prefix = f"{self.root}/camera/"
        if topic.startswith(prefix):
            rest = topic[len(prefix) :]
            if CAMERA_ID_RE.match(rest):
                return rest
        return None

    @property
    def event(self) -> str:
        """Events (not retained)."""
        return f"{self.root}/event"

    @property
    def command(self) -> str:
        """Commands to this agent."""
        return f"{self.root}/command"

    @property
    def command_result(self) -> str:
        """One result per command received."""
        return f"{self.root}/command/result"
