"""A camera emulator that plays one device profile on the real wire.

Run it as ``python -m tests.lab.emulator PROFILE.json`` inside the device's
network namespace. It is an independent implementation of the device side of
every protocol the agent speaks (WS-Discovery, SADP, DHIP, SSDP, mDNS, HTTP,
ONVIF, RTSP, raw TCP banners), written from the public facts in
/work/shared/PROTOCOLS.md, and it imports nothing from the agent.

Only the standard library is imported at start; ``cryptography`` is loaded
only for profiles with a TLS server, so ~40 emulators fit in memory at once.
"""
