"""Tests for the Home Assistant integration (pytest-homeassistant-custom-component)."""
