"""minidlna: a DLNA media server, a non-camera that answers SSDP and serves a UPnP description.

Its description says ``urn:schemas-upnp-org:device:MediaServer:1``, which the
catalogue reads as evidence of a non-camera; the scan must find the host and
must not call it a camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tests.lab import netlab
from tests.lab.peers.base import Peer, ReadyLine

PORT = 8200
"""minidlna's own default HTTP port (Debian's /etc/minidlna.conf)."""

_CONFIG = """network_interface=eth0
listening_ip={ip}
port={port}
media_dir=V,{media}
db_dir={db}
log_dir={logs}
log_level=general,artwork,database,inotify,scanner,metadata,http,ssdp,tivo=warn
friendly_name=Living room media
serial=20240101
model_number=1
inotify=no
enable_tivo=no
notify_interval=895
"""


@dataclass(eq=False)
class MiniDlna(Peer):
    """The minidlna daemon in the foreground, on eth0 only."""

    kind: ClassVar[str] = "minidlna"
    needs: ClassVar[tuple[str, ...]] = ("minidlnad",)
    camera: ClassVar[bool] = False
    evidence: ClassVar[str] = "UPnP description of a MediaServer:1 (a media server, not a camera)"

    def launch(self, lab: netlab.Lab) -> list[ReadyLine]:
        """minidlnad -S (stay in the foreground) with a config of its own."""
        media, db, logs = (self.workdir / d for d in ("media", "db", "log"))
        for directory in (media, db, logs):
            directory.mkdir(exist_ok=True)
        config = self.workdir / "minidlna.conf"
        config.write_text(
            _CONFIG.format(ip=self.ip, port=PORT, media=media, db=db, logs=logs), encoding="utf-8"
        )
        argv = ["minidlnad", "-S", "-f", str(config), "-P", str(self.workdir / "minidlna.pid")]
        self.start(lab, argv, "daemon")
        return []

    def checks(self) -> list[list[str]]:
        """Its description is served and it answers a MediaServer search."""
        return [
            ["http", self.ip, "--port", str(PORT), "--path", "/rootDesc.xml"],
            ["ssdp", self.ip, "--st", "urn:schemas-upnp-org:device:MediaServer:1"],
        ]
