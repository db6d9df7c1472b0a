"""Shared fixtures for the identify tests: the packaged catalogue, loaded once."""

from __future__ import annotations

import pytest

from cctv_sentinel.identify import Catalogue, load_catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()
