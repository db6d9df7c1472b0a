"""Serve one UPnP root device with GUPnP/GSSDP 1.6 (run with Debian's /usr/bin/python3).

``gupnp_device.py IFACE DESCRIPTION_DIR DESCRIPTION_FILE``: GSSDP answers
M-SEARCH on IFACE the way it does for every GNOME/GUPnP device (with its own
MX delay), GUPnP serves the description and SCPD files over HTTP. Prints
``READY <location>`` once the device is announced; runs until killed.
"""

from __future__ import annotations

import sys

import gi

gi.require_version("GSSDP", "1.6")
gi.require_version("GUPnP", "1.6")
from gi.repository import GSSDP, GLib, GUPnP  # noqa: E402  (after require_version)


def main() -> int:
    """Announce the device and serve it until killed."""
    iface, folder, description = sys.argv[1:4]
    context = GUPnP.Context.new_full(iface, None, 0, GSSDP.UDAVersion.VERSION_1_0)
    device = GUPnP.RootDevice.new(context, description, folder)
    device.set_available(True)
    print(f"READY {device.get_location()}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
