"""Classes of evidence added for devices the rules were never tuned on (issue 10).

Each test builds a host from raw answer bytes through the replay (the scan's own
parsers), so the rule is exercised the way a scan exercises it.
"""

from __future__ import annotations

from cctv_sentinel.discovery.replay import Answer, replay
from cctv_sentinel.identify import Catalogue, Policy, identify
from cctv_sentinel.model import Assessment, Attribution, Risk

ALL_REGIMES = Policy()


def _judge(
    catalogue: Catalogue, *answers: Answer, policy: Policy = ALL_REGIMES
) -> tuple[Attribution, Assessment]:
    replayed = replay(answers)
    assert not replayed.skipped
    return identify(replayed.host, catalogue, policy)


def _isapi(device_type: str, model: str) -> Answer:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<DeviceInfo version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">'
        f"<deviceName>unit</deviceName><model>{model}</model>"
        f"<serialNumber>{model}20200101AAWR000000000</serialNumber>"
        "<firmwareVersion>V1.2.9</firmwareVersion>"
        f"<deviceType>{device_type}</deviceType></DeviceInfo>"
    )
    return Answer("isapi-deviceinfo", body.encode(), path="/ISAPI/System/deviceInfo")


def test_an_alarm_panel_on_a_camera_makers_web_stack_is_not_a_camera(
    catalogue: Catalogue,
) -> None:
    attribution, _ = _judge(catalogue, _isapi("PWA", "DS-PWA96-M-WE"))
    assert not attribution.is_camera
    assert attribution.manufacturer_id == "hikvision"
    assert any("alarm panel" in r for r in attribution.camera_reasons)


def test_the_same_web_stack_with_a_camera_device_type_is_a_camera(catalogue: Catalogue) -> None:
    attribution, assessment = _judge(catalogue, _isapi("IPCamera", "DS-2CD2143G2-I"))
    assert attribution.is_camera
    assert attribution.brand == "Hikvision"  # a model in the maker's own grammar
    assert assessment.risk is Risk.RESTRICTED


def test_a_recorder_that_names_its_model_only_in_update_serial(catalogue: Catalogue) -> None:
    body = (
        b"deviceType=31\r\nprocessor=ST7108\r\n"
        b"serialNumber=4F0733XXXXX\r\nupdateSerial=XVR5104HS-X\r\n"
    )
    attribution, _ = _judge(
        catalogue,
        Answer("magicbox", body, path="/cgi-bin/magicBox.cgi?action=getSystemInfo"),
    )
    assert attribution.is_camera
    assert attribution.model == "XVR5104HS-X"
    assert attribution.manufacturer_id == "dahua"


def test_an_ftp_banner_read_through_nmap_names_the_camera_and_its_label(
    catalogue: Catalogue,
) -> None:
    banner = b"220 AXIS P1346 Network Camera 5.40.9 (2013) ready.\r\n"
    attribution, _ = _judge(catalogue, Answer("ftp-banner", banner, port=21))
    assert attribution.is_camera
    assert attribution.manufacturer_id == "axis"
    assert attribution.brand == "Axis"


def test_a_print_server_of_a_camera_maker_is_not_a_camera(catalogue: Catalogue) -> None:
    banner = b"220 Axis 5570e Network Print Server V6.00 Jul 6 2001 ready.\r\n"
    attribution, _ = _judge(catalogue, Answer("ftp-banner", banner, port=21))
    assert not attribution.is_camera


def test_a_router_os_banner_names_its_maker_but_no_camera(catalogue: Catalogue) -> None:
    attribution, _ = _judge(catalogue, Answer("ssh-banner", b"SSH-2.0-HUAWEI-1.5\r\n", port=22))
    assert not attribution.is_camera
    attribution, _ = _judge(catalogue, Answer("banner", b"HUAWEI-VRP-3.10", field="ssh.banner"))
    assert not attribution.is_camera
    assert attribution.manufacturer_id == "huawei"


def test_an_unknown_registrant_is_a_marked_guess_that_no_regime_judges(
    catalogue: Catalogue,
) -> None:
    attribution, assessment = _judge(catalogue, Answer("mac", value="00:1a:ee:00:00:01"))
    assert catalogue.vendor_for_ieee("Shenztech Ltd") is None
    assert attribution.manufacturer == "Shenztech"
    assert attribution.manufacturer_id is None
    assert "guessed from the OUI registrant" in attribution.explanation
    assert assessment.risk is Risk.UNKNOWN
    assert "Shenztech" in assessment.reason


def test_a_camera_makers_registration_makes_a_camera_of_a_bare_mac(catalogue: Catalogue) -> None:
    attribution, _ = _judge(catalogue, Answer("mac", value="00:13:e2:00:00:01"))
    assert attribution.is_camera
    assert attribution.manufacturer == "GeoVision"


def test_reolink_and_tp_link_are_elevated_not_restricted_with_every_regime_on(
    catalogue: Catalogue,
) -> None:
    for maker in ("reolink", "tp-link"):
        attribution, assessment = _judge(catalogue, Answer("mac", value=_mac_of(catalogue, maker)))
        assert attribution.manufacturer_id == maker
        assert assessment.risk is Risk.ELEVATED, assessment.reason
        assert "only if" in assessment.reason
    attribution, assessment = _judge(catalogue, _isapi("IPCamera", "DS-2CD2143G2-I"))
    assert assessment.risk is Risk.RESTRICTED


def _mac_of(catalogue: Catalogue, vendor_id: str) -> str:
    from netaddr import EUI  # noqa: PLC0415  (only this helper needs the registry directly)

    names = set(catalogue.vendors[vendor_id].ieee_names)
    for prefix in ("ec:71:db", "68:dd:b7", "40:ed:00"):
        if EUI(prefix.replace(":", "-") + "-00-00-01").oui.registration().org in names:
            return prefix + ":00:00:01"
    raise AssertionError(f"no known prefix for {vendor_id}")
