"""Pure parsers and builders for the wire formats cameras speak.

Nothing in this package touches a socket, the event loop or a logger: every
function takes bytes and returns a frozen dataclass, or raises a
:class:`cctv_sentinel.errors.ProtocolError` subclass. Every string that comes
from a device is passed through :func:`cctv_sentinel.protocols.text.clean`.
"""
