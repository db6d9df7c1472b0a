"""Shared helpers for the protocol parser tests: fixtures, fuzz settings, checks."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from cctv_sentinel.errors import ProtocolError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "packets"

# Modest budgets so the whole folder stays well under a minute on 2 cores.
FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_SMALL = settings(FUZZ, max_examples=120)

_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})

# Terminal escapes, bidi overrides and other invisible characters a hostile
# device might put in a name.
NASTY = [
    "\x1b[31mRED\x1b[0m",
    "\x1b]0;title\x07",
    "\u202eevil\u202c",
    "\u200bzero\u200dwidth",
    "nul\x00byte",
    "bell\x07",
    "tab\tand\nnewline",
    "\ufeffbom",
    "\U000e0041tag",
]


def fixture(proto: str, name: str) -> bytes:
    """Bytes of one fixture file."""
    return (FIXTURES / proto / name).read_bytes()


def fixtures(proto: str, pattern: str = "*") -> list[Path]:
    """Fixture files of one protocol, sorted, README excluded."""
    return sorted(
        p
        for p in (FIXTURES / proto).glob(pattern)
        if p.is_file() and p.suffix in {".xml", ".bin", ".txt", ".json"}
    )


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a parsed result (dataclasses, tuples, mappings)."""
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from strings_in(getattr(value, field.name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from strings_in(item)


def assert_clean(value: Any, max_len: int = 1024) -> None:
    """Every device string in ``value`` is printable, one line and bounded."""
    for text in strings_in(value):
        assert len(text) <= max_len, text[:80]
        bad = [c for c in text if unicodedata.category(c) in _BAD_CATEGORIES]
        assert not bad, f"control or format characters left in {text!r}"
        assert "\n" not in text
        assert "\r" not in text


def parse_or_protocol_error(
    parse: Callable[[bytes], Any], data: bytes, expected: type | tuple[type, ...]
) -> Any:
    """The fuzz property: a result of the expected type, or a ProtocolError."""
    try:
        result = parse(data)
    except ProtocolError:
        return None
    assert isinstance(result, expected), type(result)
    assert_clean(result)
    return result


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A fixture cut, with bytes flipped, inserted or removed."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[pos:]
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 64))]
    return bytes(data)
