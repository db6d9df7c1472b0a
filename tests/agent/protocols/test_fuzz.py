"""Every parser, fed hostile input: a result of its type or a ProtocolError, nothing else.

Random bytes, every truncation and random mutations of each real fixture,
XML bombs, deep nesting, odd encodings, JSON built by hypothesis, and
device-like documents whose fields hold control and bidi characters.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedXmlError, OversizeError, ProtocolError
from cctv_sentinel.protocols import dhip, http, mdns, onvif, rtsp, sadp, ssdp, wsd

from ._support import FUZZ, FUZZ_SMALL, NASTY, fixtures, mutated, parse_or_protocol_error


@dataclass(frozen=True)
class Parser:
    """One parse function, what it returns, and the fixtures that feed it."""

    name: str
    parse: Callable[[bytes], Any]
    returns: type | tuple[type, ...]
    seeds: tuple[bytes, ...]
    xml: bool


def _seeds(proto: str, pattern: str = "*") -> tuple[bytes, ...]:
    return tuple(p.read_bytes() for p in fixtures(proto, pattern))


def _mdns_and_services(data: bytes) -> mdns.DnsMessage:
    message = mdns.parse_message(data)
    for service in mdns.services(message):
        assert isinstance(service, mdns.ServiceInstance)
    return message


_ONVIF = _seeds("onvif")
_HTTP_XML = _seeds("http", "*.xml")
PARSERS = [
    Parser("wsd", wsd.parse_message, wsd.WsdMessage, _seeds("wsd"), True),
    Parser("sadp", sadp.parse_message, (sadp.SadpReply, sadp.SadpProbe), _seeds("sadp"), True),
    Parser("dhip", dhip.parse_message, (dhip.DhipDevice, dhip.DhipRequest), _seeds("dhip"), False),
    Parser("ssdp", ssdp.parse_message, ssdp.SsdpMessage, _seeds("ssdp", "*.txt"), False),
    Parser("upnp", ssdp.parse_description, ssdp.UpnpDescription, _seeds("ssdp", "*.xml"), True),
    Parser("mdns", _mdns_and_services, mdns.DnsMessage, _seeds("mdns", "*.bin"), False),
    Parser("rtsp", rtsp.parse_response, rtsp.RtspResponse, _seeds("rtsp"), False),
    Parser("isapi", http.parse_isapi_device_info, http.IsapiDeviceInfo, _HTTP_XML, True),
    Parser("keyvalue", http.parse_key_values, Mapping, _seeds("http", "*.txt"), False),
    Parser("title", http.html_title, (str, type(None)), (b"<title>x</title>",), False),
    Parser("onvif-info", onvif.parse_device_information, onvif.DeviceInformation, _ONVIF, True),
    Parser("onvif-time", onvif.parse_system_date_and_time, (dt.datetime, type(None)), _ONVIF, True),
    Parser("onvif-ifaces", onvif.parse_network_interfaces, tuple, _ONVIF, True),
    Parser("onvif-fault", onvif.parse_fault, (onvif.SoapFault, type(None)), _ONVIF, True),
]  # fmt: skip
XML_PARSERS = [p for p in PARSERS if p.xml]
IDS = [p.name for p in PARSERS]


def test_every_parser_has_seeds() -> None:
    assert all(p.seeds for p in PARSERS)


@pytest.mark.parametrize("parser", PARSERS, ids=IDS)
@given(data=st.binary(max_size=2048))
@FUZZ_SMALL
def test_random_bytes(parser: Parser, data: bytes) -> None:
    parse_or_protocol_error(parser.parse, data, parser.returns)


@pytest.mark.parametrize("parser", PARSERS, ids=IDS)
@given(data=st.data())
@FUZZ
def test_mutated_fixtures(parser: Parser, data: st.DataObject) -> None:
    sample = data.draw(mutated(list(parser.seeds)))
    parse_or_protocol_error(parser.parse, sample, parser.returns)


@pytest.mark.parametrize("parser", PARSERS, ids=IDS)
def test_every_truncation_of_every_fixture(parser: Parser) -> None:
    for seed in parser.seeds:
        for cut in range(len(seed)):
            parse_or_protocol_error(parser.parse, seed[:cut], parser.returns)


@pytest.mark.parametrize("parser", PARSERS, ids=IDS)
def test_a_megabyte_is_refused_by_size(parser: Parser) -> None:
    huge = parser.seeds[0] + b" " * (1024 * 1024)
    if parser.name == "title":
        assert http.html_title(huge) == "x"  # the title parser reads a bounded prefix
        return
    with pytest.raises(OversizeError):
        parser.parse(huge)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]><ProbeMatch><DeviceDescription>&lol9;</DeviceDescription></ProbeMatch>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<DeviceInfo><model>&xxe;</model></DeviceInfo>"
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://198.18.0.1/x.dtd">%p;]><r/>'
)
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "'
    + b"A" * 4000
    + b'">]><r>'
    + b"&a;" * 2000
    + b"</r>"
)
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://198.18.0.1/r.dtd"><r/>'
BOMBS = {
    "billion-laughs": BILLION_LAUGHS,
    "external-entity": EXTERNAL_ENTITY,
    "parameter-entity": PARAMETER_ENTITY,
    "quadratic-blowup": QUADRATIC,
    "external-dtd": EXTERNAL_DTD,
}


@pytest.mark.parametrize("parser", XML_PARSERS, ids=[p.name for p in XML_PARSERS])
@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_xml_bombs_are_refused(parser: Parser, bomb: str) -> None:
    data = BOMBS[bomb]
    assert len(data) < 16 * 1024  # the defence tested is not the size cap
    with pytest.raises(MalformedXmlError):
        parser.parse(data)


@pytest.mark.parametrize("parser", XML_PARSERS, ids=[p.name for p in XML_PARSERS])
@pytest.mark.parametrize(
    "data",
    [
        b"<a>" * 2000 + b"</a>" * 2000,
        b"<r>" + b"<e/>" * 4200 + b"</r>",
        b'<?xml version="1.0" encoding="GB2312"?><r>\xc9\xe3\xcf\xf1\xbb\xfa</r>',
        b'<?xml version="1.0" encoding="UTF-8"?><r>\xff\xfe\xfd</r>',
        b"\xff\xfe<\x00r\x00/\x00>\x00",
        b'<?xml version="1.0" encoding="x-unknown"?><r/>',
        b"<r><![CDATA[" + b"]" * 3000 + b"]]></r>",
        b"<r a='" + b"x" * 10000 + b"'/>",
        b"<?pi " + b"x" * 1000 + b"?><r/>",
    ],
    ids=["deep", "wide", "gb2312", "bad-utf8", "utf16", "unknown-enc", "cdata", "attr", "pi"],
)
def test_odd_xml_is_a_result_or_a_protocol_error(parser: Parser, data: bytes) -> None:
    parse_or_protocol_error(parser.parse, data, parser.returns)


def test_deep_and_wide_xml_are_oversize() -> None:
    with pytest.raises(OversizeError):
        wsd.parse_message(b"<a>" * 2000 + b"</a>" * 2000)
    with pytest.raises(OversizeError):
        wsd.parse_message(b"<r>" + b"<e/>" * 4200 + b"</r>")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Documents shaped like real answers, with one value chosen by hypothesis.
_WSD_MATCH = (
    "<ProbeMatch><Types>{v}</Types><Scopes>onvif://www.onvif.org/name/{v}</Scopes>"
    "<XAddrs>{v}</XAddrs></ProbeMatch>"
)
TEMPLATES = [
    (
        sadp.parse_message,
        (
            "<ProbeMatch><DeviceDescription>{v}</DeviceDescription><OEMInfo>{v}</OEMInfo>"
            "<X{n}>{v}</X{n}></ProbeMatch>"
        ),
    ),
    (
        http.parse_isapi_device_info,
        (
            "<DeviceInfo><deviceName>{v}</deviceName><model>{v}</model>"
            "<macAddress>{v}</macAddress></DeviceInfo>"
        ),
    ),
    (
        ssdp.parse_description,
        (
            "<root><device><friendlyName>{v}</friendlyName>"
            "<manufacturer>{v}</manufacturer></device></root>"
        ),
    ),
    (
        onvif.parse_device_information,
        (
            "<Envelope><Body><GetDeviceInformationResponse><Manufacturer>{v}</Manufacturer>"
            "<Model>{v}</Model></GetDeviceInformationResponse></Body></Envelope>"
        ),
    ),
    (
        onvif.parse_fault,
        (
            "<Envelope><Body><Fault><Code><Value>{v}</Value></Code>"
            "<Reason><Text>{v}</Text></Reason></Fault></Body></Envelope>"
        ),
    ),
    (
        wsd.parse_message,
        "<Envelope><Header><MessageID>{v}</MessageID></Header><Body><ProbeMatches>"
        + _WSD_MATCH
        + "</ProbeMatches></Body></Envelope>",
    ),
]

_text = st.one_of(st.text(max_size=200), st.sampled_from(NASTY))


@pytest.mark.parametrize(
    "template", TEMPLATES, ids=lambda t: t[0].__module__.rsplit(".", 1)[-1] + "." + t[0].__name__
)
@given(value=_text)
@FUZZ_SMALL
def test_device_strings_always_come_out_clean(
    template: tuple[Callable[[bytes], Any], str], value: str
) -> None:
    parse, shape = template
    data = shape.replace("{v}", _escape(value)).replace("{n}", "1").encode()
    try:
        result = parse(data)
    except ProtocolError:
        return
    parse_or_protocol_error(lambda _: result, data, object)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)


@given(
    info=st.dictionaries(
        st.sampled_from(
            [
                "DeviceType",
                "SerialNo",
                "HttpPort",
                "Port",
                "IPv4Address",
                "Mac",
                "VideoInputChannels",
            ]
        ),
        _json,
    ),
    mac=_json,
)
@FUZZ
def test_dhip_any_json_shape(info: dict[str, Any], mac: Any) -> None:
    payload = {"mac": mac, "method": "client.notifyDevInfo", "params": {"deviceInfo": info}}
    data = dhip.build_frame(json.dumps(payload).encode())
    result = parse_or_protocol_error(dhip.parse_message, data, dhip.DhipDevice)
    assert result is not None  # any JSON values inside deviceInfo are tolerated
