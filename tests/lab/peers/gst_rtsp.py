"""gst-rtsp-server: GStreamer's RTSP server on port 554, open or behind Digest auth.

``GstRtspOpen`` answers OPTIONS and DESCRIBE (with an SDP) for anyone: the
only camera evidence is that an RTSP server answered, a hint the scan may use
when nothing says otherwise. ``GstRtspDigest`` asks for Digest credentials in
the realm ``IP Camera``, the generic camera realm of rapid7/recog's
http_wwwauth.xml: camera-class evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tests.lab import netlab
from tests.lab.peers.base import SYSTEM_PYTHON, Peer, ReadyLine

SCRIPT = Path(__file__).with_name("gst_rtsp_main.py")
PORT = 554
REALM = "IP Camera"
USER = "admin"
PASSWORD = "Lab-rtsp-1"


@dataclass(eq=False)
class GstRtspOpen(Peer):
    """An RTSP server without authentication."""

    kind: ClassVar[str] = "gst-rtsp"
    needs: ClassVar[tuple[str, ...]] = (SYSTEM_PYTHON,)
    camera: ClassVar[bool] = True
    evidence: ClassVar[str] = (
        "an RTSP server answered on 554 and nothing says it is another device (a hint)"
    )
    digest: ClassVar[bool] = False

    def launch(self, lab: netlab.Lab) -> list[ReadyLine]:
        """Start the server on the peer's address only."""
        argv = [SYSTEM_PYTHON, "-P", str(SCRIPT), self.ip, str(PORT)]
        if self.digest:
            argv += ["--digest", f"{USER}:{PASSWORD}", "--realm", REALM]
        return [ReadyLine(self.start(lab, argv, "server"), "READY")]

    def checks(self) -> list[list[str]]:
        """OPTIONS is answered."""
        return [["rtsp", self.ip, "--port", str(PORT), "--path", "/stream1"]]


@dataclass(eq=False)
class GstRtspDigest(GstRtspOpen):
    """An RTSP server that asks for Digest credentials in a camera realm."""

    kind: ClassVar[str] = "gst-rtsp-digest"
    evidence: ClassVar[str] = f'RTSP DESCRIBE answered 401 with Digest realm "{REALM}"'
    digest: ClassVar[bool] = True
