"""Every cap the agent puts on what a peer can make it do, each with its reason.

Devices on the LAN are not trusted: a broken or hostile camera can send huge,
slow, malformed or endless replies. Each number here bounds memory or time for
one kind of input. Tests shrink the time-based ones instead of sleeping.
"""

from __future__ import annotations

from typing import Final

# --- datagrams ---------------------------------------------------------------
MAX_DATAGRAM: Final = 65_535
"""Largest UDP payload we read: the IPv4 UDP maximum; anything larger cannot exist."""

MAX_WSD_MESSAGE: Final = 32_768
"""WS-Discovery fits one datagram; real ProbeMatches are 1-4 KiB.

Anything above 32 KiB is not a camera talking and is dropped before parsing.
"""

MAX_SADP_MESSAGE: Final = 16_384
"""SADP replies are plain XML of about 1.5 KiB (UniversalScanner selftest)."""

MAX_DHIP_MESSAGE: Final = 16_384
"""DHIP notifyDevInfo replies are 0.5-2 KiB of JSON after a 32-byte header."""

MAX_SSDP_MESSAGE: Final = 8_192
"""SSDP responses are a handful of HTTP headers."""

MAX_MDNS_MESSAGE: Final = 9_000
"""RFC 6762 section 17: mDNS messages may be up to 9000 bytes (jumbo frames)."""

MAX_DATAGRAMS_PER_PROBE: Final = 4_096
"""A flood of replies is cut off: more than any real /16 of cameras would send."""

# --- text and structure --------------------------------------------------------
MAX_LABEL: Final = 128
"""Longest device-supplied string we keep (model names, manufacturers, banners)."""

MAX_LIST_ITEMS: Final = 64
"""Most entries kept from a device-supplied list (scopes, XAddrs, TXT strings)."""

MAX_XML_DEPTH: Final = 32
"""Deepest XML nesting accepted; SOAP replies from cameras stay under 12."""

MAX_XML_ELEMENTS: Final = 4_096
"""Most elements in one XML document; a GetDeviceInformation reply has about 20."""

MAX_JSON_DEPTH: Final = 16
"""Deepest JSON nesting accepted in DHIP bodies (real replies: 4)."""

MAX_DNS_NAME_JUMPS: Final = 16
"""Compression pointers followed in one DNS name before it is called a loop."""

MAX_DNS_RECORDS: Final = 256
"""Resource records read from one mDNS message."""

# --- TCP, HTTP, RTSP -------------------------------------------------------------
MAX_HTTP_BODY: Final = 256 * 1024
"""Most body bytes read from one HTTP reply: login pages are 2-60 KiB.

A multi-megabyte reply is cut here and the connection closed.
"""

MAX_HTTP_HEADERS: Final = 16 * 1024
"""Most header bytes read from one HTTP or RTSP reply."""

MAX_RTSP_RESPONSE: Final = 16 * 1024
"""RTSP OPTIONS/DESCRIBE replies without SDP are under 1 KiB; with SDP under 4 KiB."""

MAX_SOAP_RESPONSE: Final = 256 * 1024
"""Most bytes read from one ONVIF SOAP reply (GetNetworkInterfaces is about 4 KiB)."""

# --- concurrency ------------------------------------------------------------------
GLOBAL_CONCURRENCY: Final = 512
"""Open TCP connections at once across the scan.

512 keeps a /24 x 9 ports sweep within two rounds while staying below the
common 1024 file-descriptor soft limit, with room for UDP sockets and files.
"""

PER_HOST_CONNECTIONS: Final = 4
"""Connections at once to one host: small cameras serve few clients and
lock up or rate-limit when a scanner opens many."""

ONVIF_CONCURRENCY: Final = 16
"""ONVIF hosts asked at once (each holds up to two SOAP exchanges and their bounded replies)."""

MAX_HOSTS_PER_SCAN: Final = 65_536
"""Most addresses swept in one scan: a /16. Larger networks must be named explicitly."""

DEFAULT_MAX_PREFIX: Final = 16
"""Networks wider than /16 are refused unless the user names them explicitly."""

# --- time (seconds) -----------------------------------------------------------------
DEFAULT_SCAN_TIMEOUT: Final = 8.0
"""Default deadline of a whole scan."""

CONNECT_TIMEOUT: Final = 1.0
"""TCP connect timeout in the sweep.

An on-link dead address fails only after the kernel's 3 ARP tries (about 3 s),
so the connect timeout is what bounds a flat sweep of routed networks.
"""

REQUEST_TIMEOUT: Final = 3.0
"""Whole-request timeout for one HTTP, RTSP or SOAP exchange (slow-loris bound)."""

HEAD_TIMEOUT: Final = 0.5
"""Time allowed from connecting until a reply's whole head has arrived.

Cameras on a LAN answer in well under a second; a port that accepts and then
stays silent (an SDK port, a TLS port that ignores our hello) or drips its
head byte by byte is given up on here instead of at REQUEST_TIMEOUT.
"""

UDP_LISTEN_WINDOW: Final = 0.66
"""How long a discovery probe listens, from its first send.

WS-Discovery targets wait a random time up to 500 ms (APP_MAX_DELAY) before
answering a multicast Probe; the resend goes out at 0.08 s, so its latest
answer lands by 0.58 s plus the round trip, inside the window with 80 ms to
spare for a busy LAN.
"""

UDP_RETRANSMITS: Final = 2
"""Sends per discovery probe: UDP is lossy, and a lost probe loses a camera."""

UDP_RETRANSMIT_GAP: Final = 0.08
"""Seconds between probe resends."""

SSDP_MX: Final = 1
"""MX of our M-SEARCH: a device waits a random 0..MX seconds before each answer.

UPnP Device Architecture 1.1 (the M-SEARCH MX header) allows 1 to 5 and has
devices spread their answers over that time so that searchers are not flooded.
1 is the lowest value allowed, so it is the shortest wait the protocol lets us
ask for; a LAN of a few hundred devices still fits in one second of answers when
the receive buffers hold a burst. GSSDP 1.6 honours it this way (tests/lab/peers:
its answers arrive spread over the MX seconds after the search), so the socket
listens MX seconds after the last M-SEARCH, plus SSDP_MARGIN.
"""

SSDP_MARGIN: Final = 0.2
"""Seconds the SSDP socket listens beyond MX after the last M-SEARCH.

Covers a device that picks a delay close to MX and is itself busy, and our own
event loop on a loaded machine. Answers later still are heard while the scan
runs (the socket stays open until the scan ends).
"""

MDNS_TC_WAIT: Final = 0.5
"""Seconds to wait for the rest of a truncated (TC) mDNS answer from one responder.

RFC 6762 s7.2 has a responder that sees TC wait 400-500 ms for the rest of the
known answers; a responder that sets TC on an answer sends the rest in further
packets, and we wait as long for them before reporting what we have.
"""

ARP_SETTLE: Final = 0.3
"""After the ARP poke, when the silent addresses are poked once more.

Wired hosts answer within milliseconds; the second poke covers a lost ARP
request or reply on a lossy link without waiting for the kernel's own
retransmission (retrans_time_ms = 1000).
"""

ARP_REPOKE: Final = 0.6
"""When the neighbour table stops being watched for hosts answering the pokes."""
