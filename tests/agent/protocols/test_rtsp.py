"""RTSP: requests, response framing (whole, byte by byte, pipelined) and parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedError, OversizeError, ProtocolError
from cctv_sentinel.limits import MAX_RTSP_RESPONSE
from cctv_sentinel.protocols import rtsp

from ._support import FUZZ, NASTY, assert_clean, fixture, fixtures

RESPONSES = fixtures("rtsp", "*.txt")


def test_hikvision_options() -> None:
    response = rtsp.parse_response(fixture("rtsp", "hikvision_options_200.txt"))
    assert (response.status, response.reason, response.cseq) == (200, "OK", 0)
    assert response.public == (
        "OPTIONS", "DESCRIBE", "PLAY", "PAUSE", "SETUP", "TEARDOWN",
        "SET_PARAMETER", "GET_PARAMETER",
    )  # fmt: skip
    assert response.challenges == ()
    assert response.server is None
    assert response.header("Date") == "Mon, Dec 27 2021 08:38:32 GMT"


def test_hikvision_describe_offers_digest_and_basic() -> None:
    response = rtsp.parse_response(fixture("rtsp", "hikvision_describe_401.txt"))
    assert (response.status, response.cseq) == (401, 1)
    digest, basic = response.challenges
    assert digest.scheme == "Digest"
    assert digest.params["realm"] == "IP Camera(C1214)"
    assert digest.params["nonce"] == "a0f8116631ca25c24d7ca559e253ad97"
    assert digest.params["stale"] == "FALSE"
    assert basic.scheme == "Basic"


def test_amcrest_realm_carries_the_serial() -> None:
    response = rtsp.parse_response(fixture("rtsp", "amcrest_options_401.txt"))
    (digest,) = response.challenges
    assert digest.params["realm"] == "Login to AMC0007RVY5EQ6DV29"


def test_wisenet_and_aiphone() -> None:
    wisenet = rtsp.parse_response(fixture("rtsp", "wisenet_describe_401.txt"))
    assert wisenet.challenges[0].params["realm"] == "iPOLiS"
    assert wisenet.header("cache-control") == "must-revalidate"
    aiphone = rtsp.parse_response(fixture("rtsp", "aiphone_describe_200.txt"))
    assert aiphone.server == "Linux/2.6.32.17-davinci1 Ze-PRO"
    assert aiphone.cseq == 4
    assert aiphone.header("content-type") == "application/sdp"
    # SDP lines are body, not headers.
    assert aiphone.header("a") is None


@pytest.mark.parametrize("path", RESPONSES, ids=lambda p: p.stem)
def test_response_length_whole_byte_by_byte_and_pipelined(path: Path) -> None:
    data = path.read_bytes()
    assert rtsp.response_length(data) == len(data)
    for cut in range(len(data)):
        assert rtsp.response_length(data[:cut]) is None, cut
    pipelined = data + data + b"RTSP/1.0 200"
    assert rtsp.response_length(pipelined) == len(data)
    assert rtsp.parse_response(pipelined[: len(data)]) == rtsp.parse_response(data)


def test_lf_only_head_is_framed() -> None:
    data = b"RTSP/1.0 200 OK\nCSeq: 2\nContent-Length: 3\n\nabcRTSP"
    assert rtsp.response_length(data) == len(data) - 4
    assert rtsp.parse_response(data[:-4]).cseq == 2


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"RTSP/1.0 200 OK\r\nContent-Length: abc\r\n\r\n", MalformedError),
        (b"RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n", OversizeError),
        (b"RTSP/1.0 200 OK\r\nContent-Length: " + b"9" * 50 + b"\r\n\r\n", OversizeError),
        (b"RTSP/1.0 200 OK\r\nX: " + b"a" * MAX_RTSP_RESPONSE, OversizeError),
        (
            b"RTSP/1.0 200 OK\r\nContent-Length: 100\r\n" + b"X: y\r\n" * 2729 + b"\r\n",
            OversizeError,
        ),
    ],
)
def test_response_length_refuses_bad_framing(data: bytes, error: type) -> None:
    with pytest.raises(error):
        rtsp.response_length(data)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"HTTP/1.1 200 OK\r\n\r\n", MalformedError),
        (b"RTSP/1.0 abc OK\r\n\r\n", MalformedError),
        (b"garbage", MalformedError),
        (b"", MalformedError),
        (b"RTSP/1.0 200 OK\r\n" + b" " * MAX_RTSP_RESPONSE, OversizeError),
    ],
)
def test_parse_response_refuses_non_rtsp(data: bytes, error: type) -> None:
    with pytest.raises(error):
        rtsp.parse_response(data)


@pytest.mark.parametrize("nasty", NASTY)
def test_server_and_realm_come_out_clean(nasty: str) -> None:
    data = (
        f"RTSP/1.0 401 Unauthorized\r\nServer: {nasty}\r\n"
        f'WWW-Authenticate: Digest realm="{nasty}", nonce="n"\r\n\r\n'
    ).encode()
    assert_clean(rtsp.parse_response(data))


def test_odd_cseq_becomes_none() -> None:
    assert rtsp.parse_response(b"RTSP/1.0 200 OK\r\nCSeq: x\r\n\r\n").cseq is None


def test_build_request() -> None:
    data = rtsp.build_request(
        "DESCRIBE", "rtsp://198.18.0.10:554/", 2, "cctv-sentinel", {"Accept": "application/sdp"}
    )
    assert data == (
        b"DESCRIBE rtsp://198.18.0.10:554/ RTSP/1.0\r\nCSeq: 2\r\n"
        b"User-Agent: cctv-sentinel\r\nAccept: application/sdp\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("method", "url", "cseq", "agent", "extra"),
    [
        ("options", "rtsp://x/", 1, "a", None),
        ("OPTIONS", "rtsp://x/ RTSP/1.0\r\nX: y", 1, "a", None),
        ("OPTIONS", "", 1, "a", None),
        ("OPTIONS", "rtsp://x/", 0, "a", None),
        ("OPTIONS", "rtsp://x/", 1, "a\r\nEvil: 1", None),
        ("OPTIONS", "rtsp://x/", 1, "a", {"Bad Name": "v"}),
    ],
)
def test_build_request_refuses_injection(
    method: str, url: str, cseq: int, agent: str, extra: dict[str, str] | None
) -> None:
    with pytest.raises(ValueError, match=r"must|bad"):
        rtsp.build_request(method, url, cseq, agent, extra)


@given(st.binary(max_size=2048))
@FUZZ
def test_response_length_never_fails_otherwise(data: bytes) -> None:
    try:
        length = rtsp.response_length(data)
    except ProtocolError:
        return
    assert length is None or 0 < length <= len(data)
