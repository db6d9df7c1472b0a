"""SSDP (UPnP 1.0) responder on UDP 1900 and its device description document."""

from __future__ import annotations

import functools
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Final

from tests.lab.emulator.udp import UdpService
from tests.lab.emulator.xmlparse import escape

if TYPE_CHECKING:
    from tests.lab.emulator.context import Device

PORT: Final = 1900
GROUP: Final = "239.255.255.250"
MAX_SEARCH: Final = 2_048
BROAD_TARGETS: Final = ("ssdp:all",)


def parse_search(data: bytes) -> dict[str, str] | None:
    """Headers (lower-case names) of an M-SEARCH, or None if it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n")
    if lines[0].strip().upper() != "M-SEARCH * HTTP/1.1":
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("man", "").strip('"') != "ssdp:discover":
        return None
    return headers


def description_xml(block: dict[str, Any]) -> bytes:
    """The UPnP device description (urn:schemas-upnp-org:device-1-0)."""
    fields = "".join(
        f"<{name}>{escape(value)}</{name}>\n" for name, value in block["description"].items()
    )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<root xmlns="urn:schemas-upnp-org:device-1-0">\n'
        "<specVersion><major>1</major><minor>0</minor></specVersion>\n"
        f"<device>\n{fields}</device>\n</root>\n"
    )
    return text.encode()


class Ssdp:
    """Answers M-SEARCH for ssdp:all, upnp:rootdevice, its st or device type."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.block: dict[str, Any] = device.raw["ssdp"]
        self.udp = UdpService(device, "ssdp", PORT)

    async def start(self) -> None:
        """Bind 1900 and join 239.255.255.250."""
        await self.udp.start(self.on_datagram, [GROUP])

    def close(self) -> None:
        """Close the socket."""
        self.udp.close()

    def targets(self, st: str) -> list[str]:
        """The ST values to answer for one requested ST (none: stay silent)."""
        own = [self.block["st"], "upnp:rootdevice"]
        device_type = self.block["description"].get("deviceType")
        if device_type:
            own.append(device_type)
        own = list(dict.fromkeys(own))
        if st in BROAD_TARGETS:
            return own
        return [st] if st in own else []

    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """Answer a matching M-SEARCH after a delay bounded by MX and --max-delay."""
        if len(data) > MAX_SEARCH:
            return
        headers = parse_search(data)
        if headers is None:
            return  # NOTIFY, responses, or noise
        targets = self.targets(headers.get("st", ""))
        if not targets:
            self.device.log("ssdp", addr, "M-SEARCH not matching; silent")
            return
        self.device.log("ssdp", addr, f"M-SEARCH {' '.join(targets)} answered")
        try:
            mx = max(0.0, float(headers.get("mx", "1")))
        except ValueError:
            mx = 1.0
        for st in targets:
            reply = self.reply(st)
            delay = min(mx, self.device.delay())
            self.udp.later(delay, functools.partial(self.udp.send, reply, addr))

    def reply(self, st: str) -> bytes:
        """One HTTP/1.1 200 OK search response."""
        block = self.block
        usn = block["usn"] if st == block["st"] else f"{block['usn']}::{st}"
        ip = self.device.profile.network.ip
        lines = [
            "HTTP/1.1 200 OK",
            "CACHE-CONTROL: max-age=1800",
            f"DATE: {formatdate(usegmt=True)}",
            "EXT:",
            f"LOCATION: http://{ip}:{block['location_port']}{block['location_path']}",
            f"SERVER: {block['server']}",
            f"ST: {st}",
            f"USN: {usn}",
        ]
        lines += [f"{k}: {v}" for k, v in (block.get("extra_headers") or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()
