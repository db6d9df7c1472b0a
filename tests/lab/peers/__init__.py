"""Real third-party peers for the lab LAN: one module per implementation.

See :mod:`tests.lab.peers.base` for the common interface and
docs/discovery.md for what each peer proves.
"""

from __future__ import annotations

from tests.lab.peers.avahi import AvahiCamera
from tests.lab.peers.base import CHECKER_IP, Peer, PeerUnavailableError, ReadyLine, start_peers
from tests.lab.peers.gst_rtsp import GstRtspDigest, GstRtspOpen
from tests.lab.peers.gupnp import GupnpCamera, GupnpLight
from tests.lab.peers.ipycam import IpyCam
from tests.lab.peers.lighttpd import LighttpdCamera, LighttpdPlain
from tests.lab.peers.minidlna import MiniDlna
from tests.lab.peers.wsdd import Wsdd

__all__ = [
    "CHECKER_IP",
    "AvahiCamera",
    "GstRtspDigest",
    "GstRtspOpen",
    "GupnpCamera",
    "GupnpLight",
    "IpyCam",
    "LighttpdCamera",
    "LighttpdPlain",
    "MiniDlna",
    "Peer",
    "PeerUnavailableError",
    "ReadyLine",
    "Wsdd",
    "start_peers",
]


def standard_peers() -> list[Peer]:
    """One of each peer at 198.18.0.40-.49, clear of the corpus (.21-.23, .101-.132, .201-)."""
    return [
        AvahiCamera("avahi", "198.18.0.40", "ac:cc:8e:00:00:40"),
        MiniDlna("dlna", "198.18.0.41", "02:00:5e:00:00:41"),
        GupnpCamera("upnpcam", "198.18.0.42", "02:00:5e:00:00:42"),
        GupnpLight("upnplight", "198.18.0.43", "02:00:5e:00:00:43"),
        GstRtspOpen("rtsp", "198.18.0.44", "02:00:5e:00:00:44"),
        GstRtspDigest("rtspauth", "198.18.0.45", "02:00:5e:00:00:45"),
        LighttpdCamera("webcam", "198.18.0.46", "02:00:5e:00:00:46"),
        LighttpdPlain("web", "198.18.0.47", "02:00:5e:00:00:47"),
        IpyCam("onvif", "198.18.0.48", "02:00:5e:00:00:48"),
        Wsdd("wsdd", "198.18.0.49", "02:00:5e:00:00:49"),
    ]
