"""The observation fields each probe emits (the contract in brief/observations.md).

The catalogue's fingerprint rules name ``probe.field`` pairs; checking them
against this table at load time turns a typo in the YAML into a load error
instead of a rule that silently never fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

ANY: Final = "*"
"""Pseudo-field: the probe answered at all (its mere presence is the evidence)."""

FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "arp": frozenset(),
    "sweep": frozenset({"banner_hex"}),
    "wsd": frozenset(
        {
            "endpoint",
            "types",
            "scopes",
            "xaddrs",
            "name",
            "hardware",
            "location",
            "scope_mac",
            "scope_manufacturer",
            "video",
            "via",
        }
    ),
    "sadp": frozenset(
        {
            "model",
            "serial",
            "device_type",
            "firmware",
            "dsp_version",
            "oem",
            "activated",
            "http_port",
            "command_port",
            "mac",
            "ipv4",
        }
    ),
    "dhip": frozenset(
        {
            "device_class",
            "model",
            "serial",
            "firmware",
            "manufacturer",
            "vendor",
            "name",
            "http_port",
            "port",
            "mac",
            "ipv4",
        }
    ),
    "ssdp": frozenset(
        {
            "server",
            "usn",
            "st",
            "location",
            "device_type",
            "name",
            "manufacturer",
            "manufacturer_url",
            "model",
            "model_number",
            "model_description",
            "serial",
            "udn",
            "presentation_url",
        }
    ),
    "mdns": frozenset({"service", "instance", "target", "service_port", "txt", "eui64_mac"}),
    "http": frozenset(
        {
            "scheme",
            "status",
            "server",
            "auth_scheme",
            "realm",
            "title",
            "location",
            "path",
            "body",
            "tls_subject",
            "tls_issuer",
            "endpoint",
            "auth",
            "manufacturer",
            "model",
            "serial",
            "firmware",
            "mac",
            "device_type",
            "name",
            "hardware",
        }
    ),
    "rtsp": frozenset({"status", "describe_status", "server", "auth_scheme", "realm", "public"}),
    "onvif": frozenset(
        {"xaddr", "auth", "error", "manufacturer", "model", "firmware", "serial", "hardware", "mac"}
    ),
    "nmap": frozenset(
        {"service", "product", "version", "extrainfo", "devicetype", "ostype", "mac_vendor"}
    ),
}
"""Known fields per probe. ``nmap`` also has ``script_<id>`` fields."""

SCRIPT_PREFIX: Final = "script_"
"""nmap script output fields are ``script_<script id>``."""

MODEL_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("sadp", "model"),
    ("dhip", "model"),
    ("http", "model"),
    ("onvif", "model"),
    ("ssdp", "model"),
    ("ssdp", "model_number"),
    ("wsd", "hardware"),
)
"""Where a device states its model, most trustworthy first.

Proprietary discovery answers come first because OEM firmware often rewrites
the ONVIF and UPnP strings but leaves SADP/DHIP alone.
"""

FIRMWARE_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("sadp", "firmware"),
    ("dhip", "firmware"),
    ("http", "firmware"),
    ("onvif", "firmware"),
)
"""Where a device states its firmware version, most trustworthy first."""

SERIAL_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("sadp", "serial"),
    ("dhip", "serial"),
    ("http", "serial"),
    ("onvif", "serial"),
    ("ssdp", "serial"),
)
"""Where a device states its serial number, most trustworthy first."""


def known_field(probe: str, field: str) -> bool:
    """True when ``probe.field`` is part of the observation vocabulary."""
    fields = FIELDS.get(probe)
    if fields is None:
        return False
    if field == ANY or field in fields:
        return True
    return probe == "nmap" and field.startswith(SCRIPT_PREFIX) and len(field) > len(SCRIPT_PREFIX)
