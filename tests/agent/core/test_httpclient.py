"""The device-facing HTTP client against real loopback servers, honest and hostile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from cctv_sentinel._util.secret import Secret
from cctv_sentinel.discovery import httpclient
from cctv_sentinel.discovery.credentials import Credential
from cctv_sentinel.errors import ProbeError, ProbeTimeoutError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[int]:
    handlers: set[asyncio.Task[None]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        for task in handlers:
            task.cancel()  # a handler still dripping bytes to a client that gave up
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def reply(body: bytes, *, status: str = "200 OK", extra: str = "") -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            f"HTTP/1.1 {status}\r\nServer: App-webs/\r\n".encode()
            + f"Content-Length: {len(body)}\r\n{extra}\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    return handle


async def test_reads_status_headers_and_body() -> None:
    async with serve(reply(b"<title>Login</title>")) as port:
        answer = await httpclient.request("127.0.0.1", port, "/", timeout=2)
    assert answer.status == 200
    assert answer.head.header("Server") == "App-webs/"
    assert answer.body == b"<title>Login</title>"
    assert not answer.truncated


async def test_sends_host_and_user_agent() -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.0 204 No Content\r\n\r\n")
        writer.close()

    async with serve(handle) as port:
        answer = await httpclient.request("127.0.0.1", port, "/x?y=1", timeout=2)
    assert answer.status == 204
    request = seen[0].decode()
    assert request.startswith("GET /x?y=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}\r\n" in request
    assert "User-Agent: cctv-sentinel" in request


async def test_huge_body_is_cut_at_the_cap() -> None:
    chunk = b"A" * 65536

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8000000\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(122):
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async with serve(handle) as port:
        answer = await httpclient.request("127.0.0.1", port, "/", timeout=5, max_body=100_000)
    assert len(answer.body) == 100_000
    assert answer.truncated


async def test_unframed_body_is_read_until_close_or_cap() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 5000)
        writer.close()

    async with serve(handle) as port:
        small = await httpclient.request("127.0.0.1", port, "/", timeout=2, max_body=1000)
        whole = await httpclient.request("127.0.0.1", port, "/", timeout=2)
    assert (len(small.body), small.truncated) == (1000, True)
    assert (len(whole.body), whole.truncated) == (5000, False)


async def test_chunked_body_is_decoded() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
        )
        writer.close()

    async with serve(handle) as port:
        answer = await httpclient.request("127.0.0.1", port, "/", timeout=2)
    assert answer.body == b"hello world"


async def test_slow_drip_ends_at_the_deadline() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        with contextlib.suppress(ConnectionError):
            for byte in b"HTTP/1.1 200 OK\r\nServer: slow\r\n":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)

    loop = asyncio.get_running_loop()
    async with serve(handle) as port:
        start = loop.time()
        with pytest.raises(ProbeTimeoutError):
            await httpclient.request("127.0.0.1", port, "/", timeout=0.5)
        assert loop.time() - start < 1.5


async def test_endless_header_is_refused() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Junk: " + b"a" * 200_000)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        await asyncio.sleep(1)

    async with serve(handle) as port:
        with pytest.raises(ProbeError, match="head over"):
            await httpclient.request("127.0.0.1", port, "/", timeout=3)


@pytest.mark.parametrize(
    "garbage", [b"\x00\x00\x00\x10\x00\x00\x00\x1e\r\n\r\n", b"SSH-2.0-x\r\n\r\n"]
)
async def test_non_http_answers_are_probe_errors(garbage: bytes) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(garbage)
        writer.close()

    async with serve(handle) as port:
        with pytest.raises(ProbeError):
            await httpclient.request("127.0.0.1", port, "/", timeout=2)


async def test_refused_connection_is_a_probe_error() -> None:
    async with serve(reply(b"")) as port:
        pass  # closed again: nothing listens now
    with pytest.raises(ProbeError):
        await httpclient.request("127.0.0.1", port, "/", timeout=2)


async def test_digest_challenge_is_answered_once_with_credentials() -> None:
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_request(reader)
        requests.append(head)
        if b"Authorization: Digest" in head:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        else:
            writer.write(
                b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="IP Camera(C1234)", '
                b'qop="auth", nonce="abc123"\r\nContent-Length: 0\r\n\r\n'
            )
        writer.close()

    credential = Credential("admin", Secret("s3cret-pass"))
    async with serve(handle) as port:
        first, second = await httpclient.request_with_auth(
            "127.0.0.1", port, "/ISAPI/System/deviceInfo", credential=credential, timeout=2
        )
        bare, none = await httpclient.request_with_auth(
            "127.0.0.1", port, "/ISAPI/System/deviceInfo", credential=None, timeout=2
        )
    assert first.status == 401
    assert second is not None
    assert second.status == 200
    assert (bare.status, none) == (401, None)
    auth_line = next(
        line for line in requests[1].split(b"\r\n") if line.startswith(b"Authorization")
    )
    assert b'username="admin"' in auth_line
    assert b'realm="IP Camera(C1234)"' in auth_line
    assert b"s3cret-pass" not in b"".join(requests)  # digest, never the password itself
    assert len(requests) == 3
