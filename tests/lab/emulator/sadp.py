"""Hikvision SADP responder on UDP 37020 (plain-XML inquiry, PROTOCOLS.md 2.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from tests.lab.emulator import hostile
from tests.lab.emulator.udp import UdpService
from tests.lab.emulator.xmlparse import XmlError, escape, parse

if TYPE_CHECKING:
    from tests.lab.emulator.context import Device

PORT: Final = 37020
GROUP: Final = "239.255.255.250"
INQUIRY_TYPES: Final = ("inquiry", "inquiry_v32")
MAX_INQUIRY: Final = 4_096
"""An inquiry is about 150 bytes."""


class Sadp:
    """Answers inquiries by multicast to 239.255.255.250:37020 and unicast."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.block: dict[str, Any] = device.raw["sadp"]
        self.udp = UdpService(device, "sadp", PORT)

    async def start(self) -> None:
        """Bind 37020 and join the SSDP/SADP group."""
        await self.udp.start(self.on_datagram, [GROUP])

    def close(self) -> None:
        """Close the socket."""
        self.udp.close()

    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """Answer ``<Probe>...<Types>inquiry</Types></Probe>``; ignore the rest."""
        if len(data) > MAX_INQUIRY:
            return
        try:
            root = parse(data, max_bytes=MAX_INQUIRY)
        except XmlError as err:
            self.device.log("sadp", addr, f"ignored bad XML ({err})")
            return
        if root.name != "Probe":
            return  # our own multicast ProbeMatch, or another device's
        types_node = root.child("Types")
        types = types_node.text.strip().lower() if types_node is not None else ""
        if types not in INQUIRY_TYPES:
            self.device.log("sadp", addr, f"ignored Types {types!r}")
            return
        uuid_node = root.child("Uuid")
        uuid = uuid_node.text.strip() if uuid_node is not None else ""
        self.device.log("sadp", addr, f"{types} answered")
        if self.device.hostile.get("sadp_malformed"):
            replies = hostile.malformed_sadp(uuid)
        else:
            replies = [self.reply(uuid)]
        for reply in replies:
            # Public clients listen either on 37020 for the multicast copy or on
            # their own port for the unicast one (PROTOCOLS.md 2.2): send both.
            self.udp.send_multicast(reply, GROUP, PORT)
            self.udp.send(reply, addr)

    def reply(self, uuid: str) -> bytes:
        """The ProbeMatch document, fields in profile order."""
        fields = "".join(
            f"<{name}>{escape(str(value))}</{name}>\n"
            for name, value in self.block["fields"].items()
        )
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<ProbeMatch><Uuid>{escape(uuid)}</Uuid>\n<Types>inquiry</Types>\n"
            f"{fields}</ProbeMatch>\n"
        )
        return text.encode()
