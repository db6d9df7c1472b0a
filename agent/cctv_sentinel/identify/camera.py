"""Is this host a camera or recorder? A reply is evidence, not a verdict.

Printers, NAS boxes and Windows hosts answer WS-Discovery too; only
camera-class evidence (ONVIF video types and scopes, SADP, DHIP with a camera
class, vendor camera endpoints, camera banners) makes a surveillance device.
Weak hints (an RTSP server, the OUI of a maker that makes nothing else) count
only when nothing says the host is something else.
"""

from __future__ import annotations

from cctv_sentinel.identify.catalogue import Catalogue
from cctv_sentinel.identify.evidence import OUI_KIND, Scan, oui_vendor
from cctv_sentinel.model import Host

__all__ = ["EQUIPMENT_KIND", "decide"]

EQUIPMENT_KIND = "equipment"
"""Evidence channel of a device stating what kind of equipment it is."""


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def decide(host: Host, found: Scan, catalogue: Catalogue) -> tuple[bool, tuple[str, ...]]:
    """Return ``(is_camera, reasons)``; the reasons say why, either way."""
    strong: list[str] = []
    against: list[str] = []
    weak: list[str] = []
    declared = [
        f"{hit.says} ({hit.evidence.probe})"
        for hit in found.hits
        if hit.camera is False and hit.kind == EQUIPMENT_KIND
    ]
    if declared:
        # The device states its own kind (an alarm panel's deviceType): that
        # outweighs a camera maker's web stack, which such devices share.
        return False, tuple(_unique(declared))
    for hit in found.hits:
        ev = hit.evidence
        if hit.camera is True:
            strong.append(f"{hit.says} ({ev.probe})")
        elif hit.camera is False:
            against.append(f"{hit.says} ({ev.probe})")
        elif hit.kind == OUI_KIND:
            vendor_id = oui_vendor(found, catalogue)
            vendor = catalogue.vendors.get(vendor_id) if vendor_id else None
            if vendor is not None and vendor.surveillance:
                weak.append(f"{hit.says}: {vendor.name} sells surveillance equipment")
    for obs in host.observations:
        if obs.probe == "rtsp" and obs.fields.get("status"):
            weak.append(f"RTSP server answered on port {obs.port}")
            break
    if strong:
        return True, tuple(_unique(strong + weak))
    if weak and not against:
        return True, tuple(_unique([*weak, "no camera-class protocol answer; inferred from hints"]))
    if against:
        return False, tuple(_unique(against))
    return False, ("no camera-class evidence",)
