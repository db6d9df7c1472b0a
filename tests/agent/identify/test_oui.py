"""OUI lookups through netaddr's bundled IEEE registry."""

from __future__ import annotations

import pytest

from cctv_sentinel.identify import oui


def test_ma_l_lookup() -> None:
    record = oui.lookup("44-19-B6-12-34-56")
    assert record == oui.OuiRecord(
        prefix="44:19:B6", org="Hangzhou Hikvision Digital Technology Co.,Ltd."
    )


def test_iab_lookup_uses_the_36_bit_prefix() -> None:
    record = oui.lookup("00:50:c2:00:10:00")
    assert record is not None
    assert record.prefix == "00:50:C2:00:1"
    assert record.org != "IEEE Registration Authority"


@pytest.mark.parametrize(
    "mac",
    [
        None,
        "",
        "zz:zz",
        "02:00:00:00:00:01",
        "da:a1:19:00:00:01",
        "00:00:00:00:00:00",
        "ff:ff:ff:ff:ff:ff",
        "70:b3:d5:00:00:01",
    ],
)
def test_unknown_randomised_or_malformed_give_none(mac: str | None) -> None:
    assert oui.lookup(mac) is None


@pytest.mark.parametrize(
    "mac",
    [
        "44:19:b6:12:34:56",
        "44:19:b6:fe:dc:ba",
        "00:50:c2:00:10:00",
        "00:50:c2:00:1f:ff",
        "00:50:c2:ff:f0:01",
        "40:d8:55:00:10:42",
        "40:d8:55:1f:ff:ff",
        "3c:ef:8c:01:02:03",
        "00:0c:29:aa:bb:cc",
        "70:b3:d5:00:00:01",
    ],
)
def test_lookup_by_assignment_agrees_with_the_whole_address(mac: str) -> None:
    # lookup() caches per IEEE assignment (24-bit MA-L, 36-bit IAB); netaddr
    # given the whole address must name the same registrant and prefix.
    assert oui.lookup(mac) == oui._by_prefix.__wrapped__(mac)


def test_cameras_of_one_oui_share_one_registry_read() -> None:
    oui._by_prefix.cache_clear()
    for tail in range(50):
        assert oui.lookup(f"44:19:b6:00:00:{tail:02x}") is not None
    assert oui._by_prefix.cache_info().misses == 1
