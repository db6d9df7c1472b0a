"""CCTV Sentinel agent: find the cameras on a network and who really made them."""

__version__ = "0.1.0"
"""The agent's version (also the distribution's: pyproject reads it from here)."""

__all__ = ["__version__"]
