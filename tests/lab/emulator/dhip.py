"""Dahua DHIP discovery responder on UDP 37810 (PROTOCOLS.md 2.3)."""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any, Final

from tests.lab.emulator import hostile
from tests.lab.emulator.udp import UdpService

if TYPE_CHECKING:
    from tests.lab.emulator.context import Device

PORT: Final = 37810
GROUP: Final = "239.255.255.251"
HEADER: Final = struct.Struct("<I4s8xQQ")
"""Header length, magic "DHIP", session/request ids, body length twice (rroller)."""
MAX_REQUEST: Final = 4_096


def frame(body: bytes) -> bytes:
    """Wrap a JSON body in the 32-byte DHIP header."""
    return HEADER.pack(HEADER.size, b"DHIP", len(body), len(body)) + body


def unframe(data: bytes) -> dict[str, Any] | None:
    """The JSON object of a well-formed DHIP frame, or None.

    Bare JSON (no header) returns None: real devices stay silent to it.
    """
    if len(data) < HEADER.size:
        return None
    size, magic, length, _again = HEADER.unpack_from(data)
    if magic != b"DHIP" or size < HEADER.size or size > len(data):
        return None
    body = data[size : size + length]
    if len(body) != length:
        return None
    try:
        message = json.loads(body.decode("utf-8").rstrip("\x00\r\n"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return message if isinstance(message, dict) else None


class Dhip:
    """Answers DHDiscover.search with client.notifyDevInfo, unicast to the sender."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.block: dict[str, Any] = device.raw["dhip"]
        self.udp = UdpService(device, "dhip", PORT)

    async def start(self) -> None:
        """Bind 37810 (broadcasts arrive on 0.0.0.0) and join 239.255.255.251."""
        await self.udp.start(self.on_datagram, [GROUP])

    def close(self) -> None:
        """Close the socket."""
        self.udp.close()

    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """Reply to a framed DHDiscover.search; stay silent to everything else."""
        if len(data) > MAX_REQUEST:
            return
        message = unframe(data)
        if message is None:
            self.device.log("dhip", addr, "ignored unframed or bad datagram")
            return
        if message.get("method") != "DHDiscover.search":
            return  # a notifyDevInfo from another device, or an unknown method
        self.device.log("dhip", addr, "DHDiscover.search answered")
        mac = self.device.profile.network.mac
        if self.device.hostile.get("dhip_malformed"):
            self.udp.send_many(hostile.malformed_dhip(mac), addr)
            return
        self.udp.send(self.reply(), addr)

    def reply(self) -> bytes:
        """The framed client.notifyDevInfo message."""
        mac = self.device.profile.network.mac
        where = self.block.get("mac_in", "top")
        info = dict(self.block["device_info"])
        if where in ("device_info", "both"):
            info["MAC"] = mac
        message: dict[str, Any] = {}
        if where in ("top", "both"):
            message["mac"] = mac
        message["method"] = "client.notifyDevInfo"
        message["params"] = {"deviceInfo": info}
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        return frame(body.encode())
