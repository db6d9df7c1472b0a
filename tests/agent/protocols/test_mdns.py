"""mDNS: queries, answers, DNS-SD joins, EUI-64 MACs, and hostile packets."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedError, OversizeError, TruncatedError
from cctv_sentinel.limits import MAX_DNS_NAME_JUMPS, MAX_DNS_RECORDS, MAX_MDNS_MESSAGE
from cctv_sentinel.protocols import mdns

from ._support import FUZZ, NASTY, assert_clean, fixtures

zeroconf = pytest.importorskip("zeroconf")

# fixture tail -> (model, instance, target, IPv4, MAC from EUI-64)
_2722 = "DS-2CD2722FWD-IZS"
CAMERAS = {
    "733050075": (_2722, _2722 + "20170321BBWR733050075", "10.0.1.164", "18:68:cb:15:b2:84"),
    "733050127": (_2722, _2722 + "20170321BBWR733050127", "10.0.1.166", "18:68:cb:15:b2:b8"),
    "236286152": (
        "DS-2CD2955FWD-IS",
        "DS-2CD2955FWD-IS20190709AAWR236286152",
        "10.0.1.215",
        "bc:ba:c2:1f:9c:67",
    ),
    "733050169": (_2722, _2722 + "20170321BBWR733050169", "10.0.1.165", "18:68:cb:15:b2:e2"),
}


@pytest.mark.parametrize("path", fixtures("mdns", "*.bin"), ids=lambda p: p.stem)
def test_hikvision_answers(path: Path) -> None:
    tail = path.stem.rsplit("_", 1)[-1]
    model, host, ipv4, mac = CAMERAS[tail]
    message = mdns.parse_message(path.read_bytes())
    assert message.is_response
    assert message.id == 0
    assert message.questions == ()
    assert [r.rtype for r in message.records] == [12, 16, 33, 1, 28, 28, 47, 47]
    assert [r.ttl for r in message.records] == [4500, 4500, 120, 120, 120, 120, 4500, 120]
    (service,) = mdns.services(message)
    assert service.service == "_CGI._tcp.local"
    assert service.instance == f"HIKVISION {model} - {tail}"
    assert service.target == f"{host}.local"
    assert service.port == 80
    assert service.txt == ("path=/",)
    assert service.addresses[0] == ipv4
    assert len(service.addresses) == 3
    macs = {mdns.mac_from_eui64(a) for a in service.addresses if ":" in a}
    assert macs == {mac}
    assert_clean(message)


def test_query_round_trips() -> None:
    names = ["_CGI._tcp.local", "_onvif._tcp.local."]
    data = mdns.build_query(names)
    message = mdns.parse_message(data)
    assert not message.is_response
    assert message.questions == (("_CGI._tcp.local", 12), ("_onvif._tcp.local", 12))
    assert message.records == ()
    # The QU bit asks for a unicast answer (RFC 6762 5.4).
    assert data.endswith(struct.pack("!HH", 12, 0x8001))
    assert mdns.build_query(names, 1, unicast_response=False).endswith(b"\x00\x01\x00\x01")


def test_query_is_understood_by_an_independent_decoder() -> None:
    data = mdns.build_query(["_CGI._tcp.local", "_rtsp._tcp.local"], mdns.TYPE_ANY)
    incoming = zeroconf.DNSIncoming(data)
    assert [(q.name, q.type, q.unicast) for q in incoming.questions] == [
        ("_CGI._tcp.local.", 255, True),
        ("_rtsp._tcp.local.", 255, True),
    ]


@given(
    st.lists(
        st.lists(
            st.text(min_size=1, max_size=20).filter(lambda s: "." not in s), min_size=1, max_size=4
        ),
        min_size=1,
        max_size=5,
    )
)
@FUZZ
def test_any_encodable_name_round_trips(label_lists: list[list[str]]) -> None:
    names = [".".join(labels) for labels in label_lists]
    try:
        data = mdns.build_query(names, mdns.TYPE_PTR)
    except ValueError:
        return  # a label over 63 octets, or a name over 255
    questions = mdns.parse_message(data).questions
    assert len(questions) == len(names)
    assert_clean(questions)


@pytest.mark.parametrize(
    ("names", "qtype"),
    [
        ([], 12),
        (["a" * 64 + ".local"], 12),
        ([".".join(["abcdefgh"] * 40)], 12),
        (["x.local"], 0),
        (["."], 12),
    ],
)
def test_query_refuses_bad_values(names: list[str], qtype: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        mdns.build_query(names, qtype)


def _header(qd: int = 0, an: int = 0, ns: int = 0, ar: int = 0, flags: int = 0x8400) -> bytes:
    return struct.pack("!HHHHHH", 0, flags, qd, an, ns, ar)


def _rr(name: bytes, rtype: int, rdata: bytes, ttl: int = 120) -> bytes:
    return name + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def test_self_pointer_is_a_loop() -> None:
    # The answer's name at offset 12 points at offset 12.
    with pytest.raises(MalformedError):
        mdns.parse_message(_header(an=1) + _rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04"))


def test_mutual_pointers_are_refused() -> None:
    # Two names pointing at each other: the second points forward.
    data = _header(qd=2) + b"\xc0\x10\x00\x0c\x00\x01" + b"\xc0\x0c\x00\x0c\x00\x01"
    with pytest.raises(MalformedError):
        mdns.parse_message(data)


def test_pointer_past_the_end_is_refused() -> None:
    with pytest.raises(MalformedError):
        mdns.parse_message(_header(qd=1) + b"\xff\xff\x00\x0c\x00\x01")


def _chain(links: int) -> bytes:
    """Questions whose names each add a label and point at the previous name."""
    body = bytearray()
    positions: list[int] = []
    for i in range(links):
        positions.append(12 + len(body))
        if i == 0:
            body += b"\x01a\x00"
        else:
            body += b"\x01a" + struct.pack("!H", 0xC000 | positions[i - 1])
        body += b"\x00\x0c\x00\x01"
    return _header(qd=links) + bytes(body)


def test_long_backward_pointer_chains_hit_the_jump_cap() -> None:
    # Every pointer points backwards, so only the jump cap stops the chain.
    with pytest.raises(MalformedError, match="loop"):
        mdns.parse_message(_chain(MAX_DNS_NAME_JUMPS + 2))
    parsed = mdns.parse_message(_chain(MAX_DNS_NAME_JUMPS + 1))
    assert parsed.questions[-1][0] == ".".join(["a"] * (MAX_DNS_NAME_JUMPS + 1))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x00" * 11, TruncatedError),
        (_header(qd=1), TruncatedError),
        (_header(qd=1) + b"\x05ab", TruncatedError),
        (_header(qd=1) + b"\x00\x00", TruncatedError),
        (_header(an=1) + b"\x00" + struct.pack("!HHIH", 1, 1, 0, 10) + b"\x01", TruncatedError),
        (_header(qd=1) + b"\x40abc\x00\x00\x01\x00\x01", MalformedError),
        (_header(qd=1) + b"\x80abc\x00\x00\x01\x00\x01", MalformedError),
        (_header(qd=1) + b"\xc0", TruncatedError),
        (_header(an=1) + _rr(b"\x00", 1, b"\x01\x02\x03"), MalformedError),
        (_header(an=1) + _rr(b"\x00", 28, b"\x00" * 4), MalformedError),
        (_header(an=1) + _rr(b"\x00", 33, b"\x00" * 6), MalformedError),
        (_header(an=1) + _rr(b"\x00", 16, b"\x05ab"), MalformedError),
        (_header(an=1) + _rr(b"\x00", 12, b"\x05abcde"), TruncatedError),
        (_header(qd=1) + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01", MalformedError),
        (_header(an=MAX_DNS_RECORDS + 1), OversizeError),
        (_header(an=0xFFFF, ar=0xFFFF), OversizeError),
        (b"\x00" * (MAX_MDNS_MESSAGE + 1), OversizeError),
    ],
)
def test_hostile_packets_raise(data: bytes, error: type) -> None:
    with pytest.raises(error):
        mdns.parse_message(data)


def test_unknown_types_and_extra_bytes_are_tolerated() -> None:
    data = _header(an=2) + _rr(b"\x00", 13, b"\x03x86\x05Linux") + _rr(b"\x00", 5, b"\xc0\x0c")
    data += b"trailing garbage"
    records = mdns.parse_message(data).records
    assert records[0].data == ""
    assert records[0].name == ""
    assert records[1].data == ""  # CNAME pointing at the root name


@pytest.mark.parametrize("nasty", NASTY)
def test_control_characters_in_labels_and_txt_come_out_clean(nasty: str) -> None:
    label = nasty.encode()[:63]
    name = bytes([len(label)]) + label + b"\x05local\x00"
    txt = bytes([len(label)]) + label
    data = _header(an=2) + _rr(name, 16, txt) + _rr(b"\xc0\x0c", 12, name)
    assert_clean(mdns.parse_message(data))


def test_services_from_srv_alone_and_meta_ptr_ignored() -> None:
    instance = b"\x07Front 1\x05_rtsp\x04_tcp\x05local\x00"
    target = b"\x04cam1\x05local\x00"
    meta = b"\x09_services\x07_dns-sd\x04_udp\x05local\x00"
    data = _header(an=4)
    data += _rr(meta, 12, b"\x05_rtsp\x04_tcp\x05local\x00")
    data += _rr(instance, 33, struct.pack("!HHH", 0, 0, 554) + target)
    data += _rr(target, 1, bytes([198, 18, 0, 5]))
    data += _rr(target, 1, bytes([198, 18, 0, 5]))  # duplicate address
    (service,) = mdns.services(mdns.parse_message(data))
    assert service.service == "_rtsp._tcp.local"
    assert service.instance == "Front 1"
    assert service.port == 554
    assert service.addresses == ("198.18.0.5",)
    assert service.txt == ()


def test_services_with_ptr_but_no_srv() -> None:
    data = _header(an=1) + _rr(b"\x04_CGI\x04_tcp\x05local\x00", 12, b"\x0aHIKVISION \xc0\x0c")
    (service,) = mdns.services(mdns.parse_message(data))
    assert service.instance == "HIKVISION"
    assert (service.target, service.port, service.addresses) == (None, None, ())


def test_services_skips_names_without_a_service_part() -> None:
    data = _header(an=1) + _rr(b"\x04host\x05local\x00", 33, b"\x00" * 6 + b"\x00")
    assert mdns.services(mdns.parse_message(data)) == ()


@pytest.mark.parametrize(
    ("address", "mac"),
    [
        ("fe80::1a68:cbff:fe15:b284", "18:68:cb:15:b2:84"),
        ("fe80::4e11:bfff:fec2:0b9d/64", "4c:11:bf:c2:0b:9d"),  # Dahua DHIP LinkLocalAddress
        ("fe80::b64c:3bff:fef4:e301%eth0", "b4:4c:3b:f4:e3:01"),
        ("2001:db8::1", None),
        ("10.0.0.1", None),
        ("not an address", None),
        ("x" * 200, None),
    ],
)
def test_mac_from_eui64(address: str, mac: str | None) -> None:
    assert mdns.mac_from_eui64(address) == mac


_label = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="."),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() == s and "  " not in s)
_domain = st.lists(_label, min_size=1, max_size=3).map(lambda ls: ".".join(ls) + ".local.")


@st.composite
def _records(draw: st.DrawFn) -> list[tuple[str, int, object]]:
    out: list[tuple[str, int, object]] = []
    for _ in range(draw(st.integers(1, 8))):
        name = draw(_domain)
        kind = draw(st.sampled_from([1, 12, 16, 28, 33]))
        if kind == 1:
            value: object = draw(st.ip_addresses(v=4))
        elif kind == 28:
            value = draw(st.ip_addresses(v=6))
        elif kind == 12:
            value = draw(_domain)
        elif kind == 33:
            value = (draw(st.integers(0, 65535)), draw(st.integers(1, 65535)), draw(_domain))
        else:
            value = draw(st.lists(_label, min_size=1, max_size=4))
        out.append((name, kind, value))
    return out


@given(_records())
@FUZZ
def test_answers_encoded_by_zeroconf_parse_back_exactly(
    records: list[tuple[str, int, object]],
) -> None:
    # An independent encoder (python-zeroconf), with its own name compression.
    out = zeroconf.DNSOutgoing(0x8400, True, 0)
    expected: list[tuple[str, int, object]] = []
    for name, kind, value in records:
        if kind in {1, 28}:
            packed = value.packed  # type: ignore[attr-defined]
            record = zeroconf.DNSAddress(name, kind, 1, 120, packed)
            data: object = str(value)
        elif kind == 12:
            record = zeroconf.DNSPointer(name, 12, 1, 4500, str(value))
            data = str(value).rstrip(".")
        elif kind == 33:
            priority, port, target = cast("tuple[int, int, str]", value)
            record = zeroconf.DNSService(name, 33, 0x8001, 120, priority, 0, port, target)
            data = mdns.SrvData(priority, 0, port, target.rstrip("."))
        else:
            strings = list(value)  # type: ignore[call-overload]
            raw = b"".join(bytes([len(s)]) + s.encode() for s in strings)
            record = zeroconf.DNSText(name, 16, 1, 4500, raw)
            data = tuple(strings)
        out.add_answer_at_time(record, 0)
        expected.append((name.rstrip("."), kind, data))
    (packet,) = out.packets()
    parsed = mdns.parse_message(packet)
    got = [(r.name, r.rtype, r.data) for r in parsed.records]
    # zeroconf drops exact duplicates; compare as sets of what was sent.
    assert set(map(repr, got)) == set(map(repr, expected))
    mdns.services(parsed)


def test_tc_bit_is_reported() -> None:
    ptr = _rr(b"\x04_CGI\x04_tcp\x05local\x00", mdns.TYPE_PTR, b"\x01a\xc0\x0c")
    truncated = mdns.parse_message(_header(an=1, flags=0x8600) + ptr)
    whole = mdns.parse_message(_header(an=1) + ptr)
    assert truncated.truncated
    assert not whole.truncated
    assert truncated.records == whole.records


def test_queries_are_qm_or_qu_as_asked() -> None:
    qm = mdns.build_query(["_rtsp._tcp.local"], unicast_response=False)
    qu = mdns.build_query(["_rtsp._tcp.local"], unicast_response=True)
    assert struct.unpack("!H", qm[-2:])[0] == 1  # class IN, answers by multicast
    assert struct.unpack("!H", qu[-2:])[0] == 0x8001  # the QU bit asks for a unicast answer
