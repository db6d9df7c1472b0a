"""Run ipycam's virtual ONVIF camera (PyPI ``ipycam``) until killed.

``ipycam_main.py ADDRESS PORT MANUFACTURER MODEL SERIAL [USERNAME PASSWORD]``:
WS-Discovery on 3702 and the ONVIF device service plus web UI on PORT; with
USERNAME and PASSWORD, ipycam requires a WS-Security UsernameToken on every
ONVIF call. No video is streamed
(ipycam needs go2rtc or ffmpeg for that); the ONVIF answers are what the scan
reads. Prints ``READY`` once started.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading


def main() -> int:
    """Configure, start, and wait for SIGTERM."""
    address, port, manufacturer, model, serial = sys.argv[1:6]
    logging.basicConfig(level=logging.WARNING)
    from ipycam import CameraConfig, IPCamera  # noqa: PLC0415  (numpy/opencv: slow import)

    config = CameraConfig(
        name="Loading bay",
        manufacturer=manufacturer,
        model=model,
        serial_number=serial,
        local_ip=address,
        onvif_port=int(port),
        main_width=320,
        main_height=240,
        sub_width=160,
        sub_height=120,
        main_fps=1,
        sub_fps=1,
    )
    if len(sys.argv) >= 8:
        ok, error = config.set_credentials(sys.argv[6], sys.argv[7])
        if not ok:
            print(f"bad credentials: {error}", file=sys.stderr)
            return 2
    camera = IPCamera(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if not camera.start():
        return 1
    print("READY", flush=True)
    stop.wait()
    camera.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
