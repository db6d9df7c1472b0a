"""HTTP helpers: challenges, Digest answers, titles, ISAPI and Dahua CGI answers."""

from __future__ import annotations

import hashlib
import re
import types
import urllib.request

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedError, MalformedXmlError, OversizeError
from cctv_sentinel.limits import MAX_HTTP_BODY, MAX_HTTP_HEADERS, MAX_LIST_ITEMS
from cctv_sentinel.protocols import http

from ._support import FUZZ, NASTY, assert_clean, fixture


def challenge(scheme: str, **params: str) -> http.Challenge:
    return http.Challenge(scheme, types.MappingProxyType(params))


# --- WWW-Authenticate --------------------------------------------------------


def test_several_challenges_with_commas_inside_quotes() -> None:
    value = (
        'Digest realm="IP Camera(C1214)", nonce="a0f8,1166", qop="auth,auth-int", '
        'stale="FALSE", Basic realm="IP Camera(C1214)"'
    )
    digest, basic = http.parse_www_authenticate(value)
    assert digest.scheme == "Digest"
    assert dict(digest.params) == {
        "realm": "IP Camera(C1214)",
        "nonce": "a0f8,1166",
        "qop": "auth,auth-int",
        "stale": "FALSE",
    }
    assert basic.scheme == "Basic"
    assert dict(basic.params) == {"realm": "IP Camera(C1214)"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('Basic realm="x"', [("Basic", {"realm": "x"})]),
        ("Basic", [("Basic", {})]),
        ("Basic, Digest realm=x", [("Basic", {}), ("Digest", {"realm": "x"})]),
        ('Digest REALM = "a" , NONCE=b,,', [("Digest", {"realm": "a", "nonce": "b"})]),
        ('Digest realm="say \\"hi\\""', [("Digest", {"realm": 'say "hi"'})]),
        ('Digest realm="unterminated', [("Digest", {"realm": "unterminated"})]),
        ("Negotiate YIIG==", [("Negotiate", {"token68": "YIIG=="})]),
        ("Bearer abc=", [("Bearer", {"token68": "abc="})]),
        ('Digest realm="a", realm="b"', [("Digest", {"realm": "a"})]),
        ("  ,, @@ Basic", [("Basic", {})]),
        ("", []),
    ],
)
def test_parse_www_authenticate_is_lenient(
    value: str, expected: list[tuple[str, dict[str, str]]]
) -> None:
    parsed = http.parse_www_authenticate(value)
    assert [(c.scheme, dict(c.params)) for c in parsed] == expected


def test_challenge_limits() -> None:
    many = ", ".join(f"S{i}" for i in range(MAX_LIST_ITEMS + 10))
    assert len(http.parse_www_authenticate(many)) == MAX_LIST_ITEMS
    params = ", ".join(f"p{i}=v" for i in range(100))
    (only,) = http.parse_www_authenticate("Digest " + params)
    assert len(only.params) == http.MAX_PARAMS
    with pytest.raises(OversizeError):
        http.parse_www_authenticate("a" * (MAX_HTTP_HEADERS + 1))


@pytest.mark.parametrize("nasty", NASTY)
def test_realms_come_out_clean(nasty: str) -> None:
    (parsed,) = http.parse_www_authenticate(f'Digest realm="{nasty}"')
    assert_clean(parsed)


@given(st.text(max_size=300))
@FUZZ
def test_parse_www_authenticate_never_fails(value: str) -> None:
    parsed = http.parse_www_authenticate(value)
    assert len(parsed) <= MAX_LIST_ITEMS
    assert_clean(parsed)


# --- Digest --------------------------------------------------------------------

RFC7616 = {
    "realm": "http-auth@example.org",
    "qop": "auth, auth-int",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
}
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def _response_of(header: str) -> str:
    match = re.search(r'response="([0-9a-f]+)"', header)
    assert match is not None, header
    return match.group(1)


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_examples(algorithm: str, response: str) -> None:
    header = http.digest_authorization(
        challenge("Digest", algorithm=algorithm, **RFC7616),
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        password="Circle of Life",
        cnonce=RFC7616_CNONCE,
    )
    assert _response_of(header) == response
    assert header.startswith('Digest username="Mufasa", realm="http-auth@example.org"')
    assert f"algorithm={algorithm}" in header
    assert 'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"' in header
    assert "qop=auth, nc=00000001, cnonce=" in header


def test_rfc2617_example() -> None:
    header = http.digest_authorization(
        challenge(
            "Digest",
            realm="testrealm@host.com",
            qop="auth,auth-int",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
            opaque="5ccc069c403ebaf9f0171e9517f40e41",
        ),
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        password="Circle Of Life",
        cnonce="0a4f113b",
    )
    assert _response_of(header) == "6629fae49393a05397450978507c4ef1"


class _FixedCnonce(urllib.request.AbstractDigestAuthHandler):
    """The standard library's Digest code, with a cnonce we choose."""

    cnonce = "0a4f113b"

    def get_cnonce(self, nonce: str) -> str:
        return self.cnonce


_ascii = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\,'),
    min_size=1,
    max_size=24,
)


@given(_ascii, _ascii, _ascii, _ascii, st.sampled_from(["auth", None]))
@FUZZ
def test_md5_matches_the_standard_library(
    user: str, password: str, realm: str, nonce: str, qop: str | None
) -> None:
    params = {"realm": realm, "nonce": nonce, "algorithm": "MD5"}
    if qop:
        params["qop"] = qop
    manager = urllib.request.HTTPPasswordMgr()
    manager.add_password(realm, "http://198.18.0.10/", user, password)
    handler = _FixedCnonce(manager)
    request = urllib.request.Request("http://198.18.0.10/ISAPI/System/deviceInfo")
    expected = handler.get_authorization(request, params)
    assert expected is not None
    ours = http.digest_authorization(
        challenge("Digest", **params),
        method="GET",
        uri="/ISAPI/System/deviceInfo",
        username=user,
        password=password,
        cnonce=_FixedCnonce.cnonce,
    )
    assert _response_of(ours) == _response_of(expected)


def test_auth_int_with_an_empty_body_and_no_qop() -> None:
    base = {"realm": "r", "nonce": "n"}
    auth_int = http.digest_authorization(
        challenge("Digest", qop="auth-int", **base),
        method="DESCRIBE", uri="rtsp://x/", username="u", password="p", cnonce="c",
    )  # fmt: skip
    assert "qop=auth-int" in auth_int
    no_qop = http.digest_authorization(
        challenge("Digest", **base),
        method="DESCRIBE", uri="rtsp://x/", username="u", password="p", cnonce="c",
    )  # fmt: skip
    assert "qop=" not in no_qop
    assert "cnonce" not in no_qop

    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    expected = md5(f"{md5('u:r:p')}:n:{md5('DESCRIBE:rtsp://x/')}")
    assert _response_of(no_qop) == expected


def test_sess_variant_hashes_the_nonces_into_ha1() -> None:
    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    header = http.digest_authorization(
        challenge("Digest", realm="r", nonce="n", qop="auth", algorithm="SHA-256-sess"),
        method="GET", uri="/", username="u", password="p", cnonce="c", nc=3,
    )  # fmt: skip
    ha1 = sha(f"{sha('u:r:p')}:n:c")
    assert _response_of(header) == sha(f"{ha1}:n:00000003:c:auth:{sha('GET:/')}")
    assert "algorithm=SHA-256-sess" in header


def test_userhash_and_unicode_usernames() -> None:
    hashed = http.digest_authorization(
        challenge("Digest", realm="r", nonce="n", qop="auth", userhash="true", algorithm="SHA-256"),
        method="GET", uri="/", username="admin", password="p", cnonce="c",
    )  # fmt: skip
    assert "userhash=true" in hashed
    assert 'username="admin"' not in hashed
    unicode_name = http.digest_authorization(
        challenge("Digest", realm="r", nonce="n"),
        method="GET", uri="/", username='Jäsøn "Doe"', password="p", cnonce="c",
    )  # fmt: skip
    assert "username*=UTF-8''J%C3%A4s%C3%B8n%20%22Doe%22" in unicode_name


@pytest.mark.parametrize(
    "bad",
    [
        challenge("Basic", realm="r", nonce="n"),
        challenge("Digest", realm="r"),
        challenge("Digest", realm="r", nonce="n", algorithm="SHA-512-256"),
        challenge("Digest", realm="r", nonce="n", qop="auth-conf"),
    ],
)
def test_digest_refuses_what_it_cannot_answer(bad: http.Challenge) -> None:
    with pytest.raises(MalformedError):
        http.digest_authorization(
            bad, method="GET", uri="/", username="u", password="p", cnonce="c"
        )


def test_quotes_in_values_are_escaped() -> None:
    header = http.digest_authorization(
        challenge("Digest", realm='a"b', nonce="n\\"),
        method="GET", uri="/", username="u", password="p", cnonce="c",
    )  # fmt: skip
    assert 'realm="a\\"b"' in header
    assert 'nonce="n\\\\"' in header


# --- titles -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "title"),
    [
        (b"<html><head><title>WEB SERVICE</title></head></html>", "WEB SERVICE"),
        (b"<TITLE lang='en'>\n  Login &amp; more\n</TITLE>", "Login & more"),
        (b"<title>Dahua <b>x", "Dahua"),  # unterminated: stop at the next tag
        (b"<title>no close at all", "no close at all"),
        (b"<titlebar>no</titlebar><title>yes</title>", "yes"),
        (b"<title></title>", None),
        (b"<title", None),
        (b"<title" + b" a" * 200 + b">too many attributes</title>", None),
        (b"<html>no title</html>", None),
        ("<title>Caméra</title>".encode("latin-1"), "Caméra"),
        ("<title>网络摄像机</title>".encode(), "网络摄像机"),
        (b"<title>\x1b[31mred\x1b[0m \xe2\x80\xaeevil</title>", "[31mred[0m evil"),
    ],
)
def test_html_title(body: bytes, title: str | None) -> None:
    assert http.html_title(body) == title


def test_html_title_is_bounded() -> None:
    late = b" " * MAX_HTTP_BODY + b"<title>late</title>"
    assert http.html_title(late) is None
    # Many "<title" openers without ">" must not make the search quadratic.
    assert http.html_title(b"<title " * 40_000) is None
    long_title = b"<title>" + b"x" * 10_000 + b"</title>"
    result = http.html_title(long_title)
    assert result is not None
    assert len(result) <= 128


# --- ISAPI ------------------------------------------------------------------------


def test_isapi_device_info() -> None:
    info = http.parse_isapi_device_info(fixture("http", "isapi_ds-2cd63c5g1-ivs_deviceinfo.xml"))
    assert info == http.IsapiDeviceInfo(
        name="IP CAMERA",
        device_id="8a620000-4af4-11b4-82c5-50e538bbaad1",
        model="DS-2CD63C5G1-IVS",
        serial="DS-2CD63C5G1-IVS20250709AAWRGB0034379",
        mac="50:e5:38:bb:aa:d1",
        firmware="V5.8.3",
        firmware_date="build 240821",
        device_type="IPCamera",
        hardware="0x0",
        manufacturer="hikvision",
        oem_code="1",
    )


@pytest.mark.parametrize(
    "namespace",
    [
        ' xmlns="http://www.hikvision.com/ver10/XMLSchema"',
        ' xmlns="http://www.std-cgi.com/ver20/XMLSchema"',
        ' xmlns="http://www.isapi.org/ver20/XMLSchema"',
        "",
    ],
)
def test_isapi_namespaces(namespace: str) -> None:
    xml = (
        f'<?xml version="1.0" encoding="UTF-8" ?><DeviceInfo version="1.0"{namespace}>'
        "<deviceName>Network Video Recorder</deviceName><model>DS-7608NI-K2</model>"
        "<macAddress>bc:ad:28:00:00:01</macAddress></DeviceInfo>"
    )
    info = http.parse_isapi_device_info(xml.encode())
    assert (info.name, info.model, info.mac) == (
        "Network Video Recorder",
        "DS-7608NI-K2",
        "bc:ad:28:00:00:01",
    )
    assert info.serial is None
    assert info.manufacturer is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            b'<ResponseStatus version="1.0"><statusCode>4</statusCode></ResponseStatus>',
            MalformedError,
        ),
        (b"<!DOCTYPE html><html><title>401</title></html>", MalformedXmlError),
        (b"<DeviceInfo>" + b" " * http.MAX_ISAPI_XML, OversizeError),
    ],
)
def test_isapi_other_answers_raise(data: bytes, error: type) -> None:
    with pytest.raises(error):
        http.parse_isapi_device_info(data)


# --- Dahua key=value ----------------------------------------------------------------


def test_dahua_system_info() -> None:
    values = http.parse_key_values(fixture("http", "dahua_ipc-hdw5831r-ze_getsysteminfo.txt"))
    assert values["deviceType"] == "IPC-HDW5831R-ZE"
    assert values["serialNumber"] == "4X7C5A1ZAG21L3F"
    assert values["processor"] == "S3LM"
    assert values["updateSerial"] == "IPC-HDW5830R-Z"
    assert len(values) == 7


def test_amcrest_system_info_names_the_dahua_model_family() -> None:
    values = http.parse_key_values(fixture("http", "amcrest_ip4m-1041b_getsysteminfo.txt"))
    assert values["deviceType"] == "IP4M-1041B"
    assert values["updateSerial"] == "IPC-AW46WN-S2"


def test_software_version_keeps_everything_after_the_first_equals() -> None:
    values = http.parse_key_values(fixture("http", "dahua_getsoftwareversion.txt"))
    assert dict(values) == {"version": "2.800.0000016.0.R,build:2020-06-05"}
    assert dict(http.parse_key_values(b"a=b=c\nOK\n=x\nError\r\n")) == {"a": "b=c"}


def test_key_values_are_bounded_and_clean() -> None:
    many = b"".join(b"k%d=v\n" % i for i in range(http.MAX_KEY_VALUE_LINES + 10))
    assert len(http.parse_key_values(many)) == http.MAX_KEY_VALUE_LINES
    assert_clean(http.parse_key_values("\x1b[2Jkey\u202e=\x07value\x00".encode()))
    assert dict(http.parse_key_values(b"dup=1\ndup=2")) == {"dup": "1"}
    with pytest.raises(OversizeError):
        http.parse_key_values(b"a=b\n" * http.MAX_KEY_VALUE_BYTES)
    with pytest.raises(TypeError):
        http.parse_key_values(b"a=b")["new"] = "x"  # type: ignore[index]
