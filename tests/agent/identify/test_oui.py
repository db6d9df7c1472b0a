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
