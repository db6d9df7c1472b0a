"""GUPnP/GSSDP 1.6: UPnP devices served by the GNOME stack, one a camera and one not.

``GupnpCamera`` advertises the UPnP Forum's standard camera device type,
``urn:schemas-upnp-org:device:DigitalSecurityCamera:1`` (with its
DigitalSecurityCameraSettings service); ``GupnpLight`` is a
``BinaryLight:1``, which says nothing about cameras. GSSDP answers a multicast
M-SEARCH after a random delay of up to MX seconds, one answer per root
device, UDN, device type and service type, which is what tests the scan's
SSDP window.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tests.lab import netlab
from tests.lab.peers.base import SYSTEM_PYTHON, Peer, ReadyLine

SCRIPT = Path(__file__).with_name("gupnp_device.py")

_DESCRIPTION = """<?xml version="1.0" encoding="utf-8"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <device>
    <deviceType>{device_type}</deviceType>
    <friendlyName>{friendly}</friendlyName>
    <manufacturer>{manufacturer}</manufacturer>
    <manufacturerURL>http://www.example.com/</manufacturerURL>
    <modelDescription>{description}</modelDescription>
    <modelName>{model}</modelName>
    <modelNumber>{number}</modelNumber>
    <serialNumber>{serial}</serialNumber>
    <UDN>uuid:{udn}</UDN>
    <serviceList>
      <service>
        <serviceType>{service_type}</serviceType>
        <serviceId>{service_id}</serviceId>
        <SCPDURL>/scpd.xml</SCPDURL>
        <controlURL>/control</controlURL>
        <eventSubURL>/event</eventSubURL>
      </service>
    </serviceList>
  </device>
</root>
"""

_SCPD = """<?xml version="1.0" encoding="utf-8"?>
<scpd xmlns="urn:schemas-upnp-org:service-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <actionList/>
  <serviceStateTable>
    <stateVariable sendEvents="no">
      <name>Placeholder</name><dataType>string</dataType>
    </stateVariable>
  </serviceStateTable>
</scpd>
"""


@dataclass(eq=False)
class _GupnpDevice(Peer):
    """One GUPnP root device in its own namespace."""

    kind: ClassVar[str] = "gupnp"
    needs: ClassVar[tuple[str, ...]] = (SYSTEM_PYTHON,)
    device_type: ClassVar[str] = ""
    service_type: ClassVar[str] = ""
    service_id: ClassVar[str] = ""
    manufacturer: ClassVar[str] = ""
    model: ClassVar[str] = ""
    model_description: ClassVar[str] = ""
    friendly: ClassVar[str] = ""

    @property
    def udn(self) -> str:
        """A stable UDN derived from the peer's address."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cctv-sentinel-lab:{self.kind}:{self.ip}"))

    def missing(self) -> list[str]:
        """Debian's python3-gi with the GSSDP and GUPnP 1.6 typelibs."""
        gone = super().missing()
        typelibs = Path("/usr/lib/x86_64-linux-gnu/girepository-1.0")
        for lib in ("GSSDP-1.6.typelib", "GUPnP-1.6.typelib"):
            if not any(
                Path(d).joinpath(lib).exists() for d in (typelibs, "/usr/lib/girepository-1.0")
            ):
                gone.append(lib)
        return gone

    def launch(self, lab: netlab.Lab) -> list[ReadyLine]:
        """Write the description and SCPD, start GUPnP on eth0."""
        description = _DESCRIPTION.format(
            device_type=self.device_type,
            friendly=self.friendly,
            manufacturer=self.manufacturer,
            description=self.model_description,
            model=self.model,
            number="1.0",
            serial=self.udn[-12:].upper(),
            udn=self.udn,
            service_type=self.service_type,
            service_id=self.service_id,
        )
        (self.workdir / "description.xml").write_text(description, encoding="utf-8")
        (self.workdir / "scpd.xml").write_text(_SCPD, encoding="utf-8")
        argv = [SYSTEM_PYTHON, "-P", str(SCRIPT), "eth0", str(self.workdir), "description.xml"]
        return [ReadyLine(self.start(lab, argv, "device"), "READY")]

    def checks(self) -> list[list[str]]:
        """A search for its own device type is answered."""
        return [["ssdp", self.ip, "--st", self.device_type]]


@dataclass(eq=False)
class GupnpCamera(_GupnpDevice):
    """A UPnP DigitalSecurityCamera:1 (the UPnP Forum's camera device type)."""

    kind: ClassVar[str] = "gupnp-camera"
    camera: ClassVar[bool] = True
    evidence: ClassVar[str] = (
        "SSDP/UPnP device type urn:schemas-upnp-org:device:DigitalSecurityCamera:1"
    )
    device_type: ClassVar[str] = "urn:schemas-upnp-org:device:DigitalSecurityCamera:1"
    service_type: ClassVar[str] = "urn:schemas-upnp-org:service:DigitalSecurityCameraSettings:1"
    service_id: ClassVar[str] = "urn:upnp-org:serviceId:DigitalSecurityCameraSettings"
    manufacturer: ClassVar[str] = "Example Security"
    model: ClassVar[str] = "UPnP Camera 1"
    model_description: ClassVar[str] = "Fixed network camera"
    friendly: ClassVar[str] = "Warehouse door"


@dataclass(eq=False)
class GupnpLight(_GupnpDevice):
    """A UPnP BinaryLight:1: a UPnP device that is no camera."""

    kind: ClassVar[str] = "gupnp-light"
    camera: ClassVar[bool] = False
    evidence: ClassVar[str] = "SSDP/UPnP device type BinaryLight:1 and nothing camera-like"
    device_type: ClassVar[str] = "urn:schemas-upnp-org:device:BinaryLight:1"
    service_type: ClassVar[str] = "urn:schemas-upnp-org:service:SwitchPower:1"
    service_id: ClassVar[str] = "urn:upnp-org:serviceId:SwitchPower:1"
    manufacturer: ClassVar[str] = "Example Lighting"
    model: ClassVar[str] = "Lamp 1"
    model_description: ClassVar[str] = "Dimmable lamp"
    friendly: ClassVar[str] = "Hall lamp"
