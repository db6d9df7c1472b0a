"""ipycam (PyPI): an independent ONVIF device server, WS-Discovery and SOAP.

Its ProbeMatch is not quite conformant (a bare ``ProbeMatch`` without the
``ProbeMatches`` wrapper, shared/PROTOCOLS.md s3), which is exactly why it is
here: a camera the scan must still hear and ask GetDeviceInformation.
Installed in the Python 3.13 test environment only (dependency group
``peers``: it pulls in numpy and opencv).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tests.lab import netlab
from tests.lab.peers.base import Peer, ReadyLine

SCRIPT = Path(__file__).with_name("ipycam_main.py")
"""Run with -P: the script's own directory on sys.path would shadow the ipycam package."""
PORT = 80
MANUFACTURER = "IPyCam Project"
MODEL = "VirtualCam-1"
SERIAL = "LAB-000042"


@dataclass(eq=False)
class IpyCam(Peer):
    """ipycam's IPCamera with its HTTP/ONVIF server on port 80."""

    kind: ClassVar[str] = "ipycam"
    camera: ClassVar[bool] = True
    evidence: ClassVar[str] = (
        "WS-Discovery Types NetworkVideoTransmitter and an ONVIF GetDeviceInformation answer"
    )

    def missing(self) -> list[str]:
        """The ipycam package in this interpreter's environment."""
        return [] if importlib.util.find_spec("ipycam") else ["the ipycam package (group peers)"]

    def launch(self, lab: netlab.Lab) -> list[ReadyLine]:
        """Start ipycam on the peer's address."""
        argv = [sys.executable, "-P", str(SCRIPT), self.ip, str(PORT), MANUFACTURER, MODEL, SERIAL]
        return [ReadyLine(self.start(lab, argv, "camera"), "READY")]

    def checks(self) -> list[list[str]]:
        """A directed Probe is answered and the device service accepts HTTP."""
        return [
            ["wsd", self.ip],
            ["http", self.ip, "--port", str(PORT), "--path", "/onvif/device_service"],
        ]
