"""The small text and XML helpers the parsers share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedXmlError, OversizeError
from cctv_sentinel.protocols import _xml
from cctv_sentinel.protocols.text import (
    parse_bool,
    parse_int,
    parse_ipv4,
    parse_ipv6,
    tokens,
)

from ._support import FUZZ


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True), (" TRUE ", True), ("1", True), ("Yes", True), ("enabled", True),
        ("false", False), ("False", False), ("0", False), ("off", False),
        ("flase", None), ("", None), (None, None), ("2", None),
    ],
)  # fmt: skip
def test_parse_bool(raw: str | None, expected: bool | None) -> None:
    assert parse_bool(raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("80", 80), (" 8000 ", 8000), ("+5", 5), ("0", 0), ("65535", 65535),
        ("65536", None), ("-1", None), ("1_000", None), ("٣", None), ("8.0", None),
        ("", None), ("+", None), (None, None), ("9" * 21, None),
    ],
)  # fmt: skip
def test_parse_int(raw: str | None, expected: int | None) -> None:
    assert parse_int(raw, minimum=0, maximum=65535) == expected


@given(st.text(max_size=40))
@FUZZ
def test_parse_int_never_raises(raw: str) -> None:
    value = parse_int(raw, minimum=-(10**20), maximum=10**20)
    assert value is None or isinstance(value, int)


def test_tokens() -> None:
    assert tokens(" a  b\n\tc ", 10) == ("a", "b", "c")
    assert tokens("a b c d", 2) == ("a", "b")
    assert tokens("a \u202e b", 5) == ("a", "b")  # an item that cleans to nothing is dropped
    assert tokens(None, 5) == ()
    assert tokens("x" * 300, 5, 10) == ("x" * 9 + "\u2026",)


@pytest.mark.parametrize(
    ("raw", "v4", "v6"),
    [
        ("192.168.1.64", "192.168.1.64", None),
        (" 10.0.0.1 ", "10.0.0.1", None),
        ("0.0.0.0", None, None),
        ("::", None, None),
        ("fe80::1/64", None, "fe80::1"),
        ("2001:db8::1", None, "2001:db8::1"),
        ("256.1.1.1", None, None),
        ("x" * 200, None, None),
        (None, None, None),
    ],
)
def test_addresses(raw: str | None, v4: str | None, v6: str | None) -> None:
    assert parse_ipv4(raw) == v4
    assert parse_ipv6(raw) == v6


def test_escape_round_trips_through_the_parser() -> None:
    value = "a&b<c>d\"e'f"
    root = _xml.parse(f'<r a="{_xml.escape(value)}">{_xml.escape(value)}</r>'.encode(), 1024)
    assert root.text == value
    assert root.get("a") == value


def test_first_and_empty_documents() -> None:
    root = _xml.parse(b"<a><b><c>x</c></b><c>y</c></a>", 1024)
    found = _xml.first(root, "c")
    assert found is not None
    assert found.text == "x"
    assert _xml.first(None, "c") is None
    assert _xml.first(root, "missing") is None
    with pytest.raises(MalformedXmlError):
        _xml.parse(b"  \n ", 1024)
    with pytest.raises(OversizeError):
        _xml.parse(b"<a/>", 3)


def test_unknown_encoding_is_malformed_xml() -> None:
    # Found by the fuzz tests: the codec lookup raised LookupError.
    with pytest.raises(MalformedXmlError):
        _xml.parse(b'<?xml version="1.0" encoding="x-no-such-codec"?><r/>', 1024)
