"""Serve RTSP with gst-rtsp-server 1.22 (run with Debian's /usr/bin/python3).

``gst_rtsp_main.py ADDRESS PORT [--digest USER:PASSWORD --realm REALM]``:
a live test picture as Motion-JPEG over RTP, mounted at ``/`` and
``/stream1``. With ``--digest`` every media needs Digest authentication
in REALM (GStreamer's own implementation, RFC 2617). Prints ``READY`` once
the server's socket is attached; runs until killed.
"""

from __future__ import annotations

import argparse

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402  (after require_version)

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=5/1"
    " ! jpegenc ! rtpjpegpay name=pay0 pt=26 )"
)
"""Small and cheap: a two-core machine shared with the rest of the suite must not feel it."""


def main() -> int:
    """Start the server and run the GLib main loop until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("port")
    parser.add_argument("--digest")
    parser.add_argument("--realm", default="GStreamer RTSP Server")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(args.port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    if args.digest:
        user, _, password = args.digest.partition(":")
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.set_realm(args.realm)
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_digest(user, password, token)
        server.set_auth(auth)
        factory.add_role_from_structure(
            Gst.Structure.new_from_string(
                "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )
    mounts = server.get_mount_points()
    for path in ("/", "/stream1"):
        mounts.add_factory(path, factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on {args.address}:{args.port}")
    print("READY", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
