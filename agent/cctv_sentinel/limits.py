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

DISCOVERY_RCVBUF: Final = 8 * 1024 * 1024
"""Receive buffer asked for on every discovery socket (SO_RCVBUF; SO_RCVBUFFORCE as root).

Sized for the worst burst of a /24: 254 devices answering two WS-Discovery
Probe types, each sent twice, is about 1,000 ProbeMatches of 2-4 KiB. The
kernel charges a datagram's buffers (``truesize``), not its payload: a 4 KiB
answer arrives as three 1,500-byte fragments and costs about 7 KiB, so the
whole burst is about 7 MiB if the event loop read nothing while it arrived.
Linux's default (``net.core.rmem_default``, 208 KiB) holds about 30 such
answers: a busy loop during the sweep overflowed it (issue 9: ``UdpRcvbufErrors``
rose by 107 in one scan of 71 devices). Without root the kernel caps the
request at ``net.core.rmem_max``, so the scan also drains each socket dry at
every wake-up (``discovery.base.DatagramReceiver``). The memory is kernel
memory and is taken only while datagrams wait; a flood is bounded by it.
"""

UDP_DRAIN_BATCH: Final = 256
"""Datagrams read from one socket per wake-up before other work gets a turn."""

UDP_HANDLE_BATCH: Final = 32
"""Datagrams parsed per event-loop turn; the rest wait in user space, the socket read dry."""

UDP_QUEUE_BYTES: Final = 16 * 1024 * 1024
"""Most bytes read but not yet parsed on one socket (a flood cannot grow it further)."""

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

CONNECTS_PER_TURN: Final = 32
"""New TCP connections (sweep and follow-ups) started per loop turn (``discovery.base.Pacer``).

Measured at 142 emulated devices: the port scans of the hosts found in one
neighbour-table read started ~1,300 connects in one turn, and ``connect()``
took 0.43 ms each in the kernel (on a bridge of namespaces the handshake of
both ends runs inside the call), so one turn held the loop for 0.6-1.2 s
while answers waited unread and timers fired late. 32 a turn bounds a turn's
connect work to about 15 ms there. It bounds stalls; it does not make a scan
faster (docs/benchmarks.md: no measurable difference in wall time).
"""

ROUTED_SWEEP_WORKERS: Final = GLOBAL_CONCURRENCY
"""Addresses of routed networks probed at once (one connect each, from a shared list)."""

PER_HOST_CONNECTIONS: Final = 4
"""Connections at once to one host: small cameras serve few clients and
lock up or rate-limit when a scanner opens many."""

ONVIF_CONCURRENCY: Final = 16
"""ONVIF hosts asked at once when credentials are given (each makes three signed round trips)."""

ONVIF_PLAIN_CONCURRENCY: Final = 64
"""ONVIF questions at once without credentials: one bounded SOAP request each,
already held to PER_HOST_CONNECTIONS and GLOBAL_CONCURRENCY. With 16, 150 ONVIF
ports of a 142-device LAN queued for a second behind each other."""

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

WSD_APP_MAX_DELAY: Final = 0.5
"""WS-Discovery's APP_MAX_DELAY: a target waits a random 0..500 ms before answering
a multicast Probe (WCF's MaxResponseDelay default, 00:00:00.500; PROTOCOLS.md 2.1)."""

UDP_LISTEN_MARGIN: Final = 0.08
"""Seconds a discovery socket listens beyond the latest answer the protocol allows:
the round trip, and a device or event loop that is itself busy."""

UDP_LISTEN_WINDOW: Final = 0.66
"""How long a WS-Discovery, SADP or DHIP probe listens, from its first send.

The resend goes out at 0.08 s; a target answers it within APP_MAX_DELAY
(0.5 s), so the latest answer lands by 0.58 s plus the round trip: the window
is the last send + WSD_APP_MAX_DELAY + UDP_LISTEN_MARGIN. SADP and DHIP name no
delay (devices answer in under a millisecond, PROTOCOLS.md 4.2; rroller's DHIP
client waits 2 s for one unicast answer); they get the same window, which runs
beside WS-Discovery's and the SSDP window anyway. Answers later than the
window are still heard while the scan runs (the sockets stay open).
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

SIGNED_ONVIF_MIN_TIME: Final = 0.5
"""Seconds that must be left before the deadline to start a signed (credentialed) ONVIF call.

A signed exchange is three round trips (the device's clock, then two signed
requests), each up to a follow-up timeout: one started later would only be
cancelled at the deadline.
"""

CANCEL_GRACE: Final = 0.02
"""Seconds the scan waits for cancelled follow-ups at the deadline, per round."""

CANCEL_ROUNDS: Final = 3
"""Rounds of cancelling at the deadline: a second cancel interrupts a task's clean-up."""

ARP_SETTLE: Final = 0.3
"""After the ARP poke, when the silent addresses are poked once more.

Wired hosts answer within milliseconds; the second poke covers a lost ARP
request or reply on a lossy link without waiting for the kernel's own
retransmission (retrans_time_ms = 1000).
"""

ARP_REPOKE: Final = 0.6
"""When the neighbour table stops being watched for hosts answering the pokes."""
