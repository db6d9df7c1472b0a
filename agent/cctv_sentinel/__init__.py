"""CCTV Sentinel agent: find the cameras on a network and who really made them."""

from importlib import metadata

try:
    __version__ = metadata.version("cctv-sentinel")
except metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
