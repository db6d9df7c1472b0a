"""A credential sink: a LAN host that is no camera and asks every caller for Basic.

``python -m tests.lab.basic_sink ADDRESS LOGFILE PORT...`` listens on each
PORT. Every request gets ``401`` with ``WWW-Authenticate: Basic`` (the prompt
that collects a password from a careless client), except ONVIF's
GetSystemDateAndTime, which ONVIF lets anyone ask and which this sink answers
like a device service so that the agent goes on to the calls that need
credentials. Each request (head and body, bounded) is appended to LOGFILE as
one JSON line, so a test can read exactly what crossed the wire. Prints
``READY`` once listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sys
import time
from pathlib import Path

MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024

DATE_TIME = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl"'
    ' xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>'
    "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
    "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
    "<tt:UTCDateTime><tt:Time><tt:Hour>{H}</tt:Hour><tt:Minute>{M}</tt:Minute>"
    "<tt:Second>{S}</tt:Second></tt:Time><tt:Date><tt:Year>{y}</tt:Year>"
    "<tt:Month>{m}</tt:Month><tt:Day>{d}</tt:Day></tt:Date></tt:UTCDateTime>"
    "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></s:Body></s:Envelope>"
)


def _date_time() -> bytes:
    now = time.gmtime()
    return DATE_TIME.format(
        H=now.tm_hour, M=now.tm_min, S=now.tm_sec, y=now.tm_year, m=now.tm_mon, d=now.tm_mday
    ).encode()


class Sink:
    """Answers and records."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def record(self, port: int, head: bytes, body: bytes) -> None:
        line = json.dumps(
            {
                "port": port,
                "head": head.decode("latin-1"),
                "body": body.decode("latin-1"),
            }
        )
        with self.log.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    async def handle(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length" and value.strip().isdigit():
                        length = min(int(value.strip()), MAX_BODY)
                body = await reader.readexactly(length) if length else b""
                self.record(port, head, body)
                if b"GetSystemDateAndTime" in body:
                    payload = _date_time()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\n"
                        b"Content-Type: application/soap+xml; charset=utf-8\r\n"
                        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                        + payload
                    )
                else:
                    writer.write(
                        b"HTTP/1.1 401 Unauthorized\r\n"
                        b'WWW-Authenticate: Basic realm="camera"\r\n'
                        b"Content-Length: 0\r\n\r\n"
                    )
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def main() -> int:
    """Listen on every port given; run until killed."""
    address, log = sys.argv[1], Path(sys.argv[2])
    ports = [int(p) for p in sys.argv[3:]]
    sink = Sink(log)
    servers = []
    for port in ports:
        handle = functools.partial(sink.handle, port)
        servers.append(await asyncio.start_server(handle, address, port, limit=MAX_HEAD))
    print("READY", flush=True)
    await asyncio.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
