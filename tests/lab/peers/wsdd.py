"""wsdd: the WS-Discovery host daemon Samba users run, a Windows-like non-camera.

It answers WS-Discovery Probes for ``wsdp:Device`` (and only those) with Types
``wsdp:Device pub:Computer``, announces itself with a multicast Hello, and
serves its metadata over HTTP on port 5357. Started on eth0 only, IPv4 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tests.lab import netlab
from tests.lab.peers.base import Peer, ReadyLine

HOSTNAME = "OFFICE-PC-07"


@dataclass(eq=False)
class Wsdd(Peer):
    """wsdd in the foreground."""

    kind: ClassVar[str] = "wsdd"
    needs: ClassVar[tuple[str, ...]] = ("wsdd",)
    camera: ClassVar[bool] = False
    evidence: ClassVar[str] = "none camera-like: it ignores camera Probes; a live host by ARP only"

    def launch(self, lab: netlab.Lab) -> list[ReadyLine]:
        """wsdd -i eth0 -4 with a fixed host name and workgroup."""
        argv = ["wsdd", "-i", "eth0", "-4", "-n", HOSTNAME, "-w", "EXAMPLE", "-s"]
        self.start(lab, argv, "daemon")
        return []

    def checks(self) -> list[list[str]]:
        """A multicast Probe for wsdp:Device is answered and the metadata port accepts.

        wsdd answers only Probes whose Types is exactly ``wsdp:Device`` and
        listens on the group only, so the scan's camera Probes go unanswered:
        the scan finds this host by ARP, not by WS-Discovery.
        """
        return [
            ["wsd", self.ip, "--multicast", "--types", "wsdp:Device"],
            ["tcp", self.ip, "--port", "5357"],
        ]
