"""avahi-daemon + avahi-publish: a camera-like host announcing eight DNS-SD services.

The host looks like a four-sensor Axis camera: one ``_axis-video._tcp`` instance
(the type Axis cameras announce, home-assistant/core axis manifest.json), web
pages on ``_http._tcp`` and one RTSP stream per sensor on ``_rtsp._tcp``, each
with the long TXT records real devices carry. Together they are far more than
the 512 bytes a legacy-unicast answer may hold (RFC 6762 s6.7), which is what
makes this peer a test of how the scan asks.

avahi-daemon needs a D-Bus system bus for avahi-publish: the peer runs its own
``dbus-daemon`` on a socket in its work directory. avahi-daemon keeps its pid
file and socket under ``/run/avahi-daemon``; it runs in a private tmpfs ``/run``
(``ip netns exec`` already gives it a private mount namespace), with an empty
static-services directory mounted over ``/etc/avahi/services``, so neither the
host's nor another lab's avahi is touched.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import ClassVar

from tests.lab import netlab, procs
from tests.lab.peers.base import Peer, ReadyLine

MODEL = "AXIS Q3709-PVE"
"""Illustrative Axis-style model name; the evidence is the service type and the OUI."""

_DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

_AVAHI_CONFIG = """[server]
host-name={hostname}
domain-name=local
use-ipv4=yes
use-ipv6=yes
allow-interfaces=eth0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=yes
publish-aaaa-on-ipv4=yes
[reflector]
enable-reflector=no
"""


@dataclass(frozen=True)
class Service:
    """One DNS-SD service instance to publish."""

    type: str
    instance: str
    port: int
    txt: tuple[str, ...]


@dataclass(eq=False)
class AvahiCamera(Peer):
    """A camera-like host whose only discovery protocol is mDNS, served by avahi."""

    kind: ClassVar[str] = "avahi"
    needs: ClassVar[tuple[str, ...]] = ("avahi-daemon", "avahi-publish", "dbus-daemon")
    camera: ClassVar[bool] = True
    evidence: ClassVar[str] = (
        "mDNS _axis-video._tcp (the type Axis cameras announce) and an Axis OUI (AC:CC:8E)"
    )

    @property
    def serial(self) -> str:
        """The Axis serial: the MAC in upper-case hex."""
        return (self.mac or "").replace(":", "").upper()

    @property
    def hostname(self) -> str:
        """The mDNS host name, axis-<mac> as Axis cameras use."""
        return f"axis-{self.serial.lower()}"

    def services(self) -> list[Service]:
        """The eight instances: 1 x _axis-video, 3 x _http, 4 x _rtsp, with long TXT."""
        base = f"{MODEL} - {self.serial}"
        common = (
            f"macaddress={self.serial}",
            f"model={MODEL} Panoramic Network Camera, 4 sensors, 4 x 8 MP",
            "firmware=AXIS OS 11.11.73 (active track, released 2024-05)",
            "vendor=Axis Communications AB, Emdalavagen 14, Lund, Sweden",
        )
        out = [Service("_axis-video._tcp", base, 80, common)]
        for title, path in (
            ("", "/"),
            (" (live view)", "/camera/index.html#/video"),
            (" (VAPIX)", "/axis-cgi/basicdeviceinfo.cgi"),
        ):
            out.append(Service("_http._tcp", base + title, 80, (f"path={path}", *common)))
        for sensor in range(1, 5):
            media = (
                f"path=/axis-media/media.amp?camera={sensor}&videocodec=h264"
                "&resolution=3840x2160&fps=25&compression=30&videozprofile=classic"
            )
            out.append(Service("_rtsp._tcp", f"{base} (sensor {sensor})", 554, (media, *common)))
        return out

    def launch(self, lab: netlab.Lab) -> list[ReadyLine]:
        """dbus-daemon, then avahi-daemon, then one avahi-publish per service."""
        bus = self.workdir / "bus"
        dbus_conf = self.workdir / "dbus.conf"
        dbus_conf.write_text(_DBUS_CONFIG.format(socket=bus), encoding="utf-8")
        avahi_conf = self.workdir / "avahi-daemon.conf"
        avahi_conf.write_text(_AVAHI_CONFIG.format(hostname=self.hostname), encoding="utf-8")
        empty = self.workdir / "no-static-services"
        empty.mkdir(exist_ok=True)
        dbus = self.start(
            lab,
            ["dbus-daemon", f"--config-file={dbus_conf}", "--nofork", "--print-address=1"],
            "dbus",
        )
        # avahi-daemon with enable-dbus=yes stops when the bus is missing: wait for it.
        wait = procs.ReadyWait(dbus.proc, dbus.stdout_path, dbus.stderr_path, "unix:", dbus.label)
        try:
            procs.wait_ready([wait], timeout=30.0)
        except procs.ReadyError as err:
            raise netlab.LabError(str(err)) from None
        env = f"DBUS_SYSTEM_BUS_ADDRESS=unix:path={bus}"
        script = (
            "mount -t tmpfs -o mode=0755 cst-avahi /run && mkdir -p /run/avahi-daemon"
            f" && mount --bind {shlex.quote(str(empty))} /etc/avahi/services"
            f" && exec env {env} avahi-daemon -f {shlex.quote(str(avahi_conf))}"
            " --no-drop-root --no-chroot --no-rlimits --no-proc-title 2>&1"
        )
        daemon = self.start(lab, ["sh", "-c", script], "daemon")
        lines = [ReadyLine(daemon, "Server startup complete")]
        for index, service in enumerate(self.services()):
            argv = [
                "avahi-publish",
                "--no-fail",
                "-s",
                service.instance,
                service.type,
                str(service.port),
                *service.txt,
            ]
            command = f"exec env {env} {shlex.join(argv)} 2>&1"
            publisher = self.start(lab, ["sh", "-c", command], f"publish{index}")
            lines.append(ReadyLine(publisher, "Established under name"))
        return lines

    def checks(self) -> list[list[str]]:
        """Every instance answers a QM query from another host."""
        counts: dict[str, int] = {}
        for service in self.services():
            counts[service.type] = counts.get(service.type, 0) + 1
        return [
            ["mdns", self.ip, "--type", f"{kind}.local", "--count", str(n)]
            for kind, n in counts.items()
        ]
