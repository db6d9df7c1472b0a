"""The agent's exception hierarchy: one base, one subclass per kind of failure."""

from __future__ import annotations


class SentinelError(Exception):
    """Base class of every error the agent raises on purpose."""

    exit_code = 2


class UsageError(SentinelError):
    """The command line asks for something that cannot be done."""


class ConfigError(SentinelError):
    """A configuration file or value is invalid."""


class HostEnvironmentError(SentinelError):
    """The host lacks something the agent needs (interface, permission, binary)."""


class StateCorruptError(HostEnvironmentError):
    """A state file (the inventory) is damaged; ``recover-state`` saves what can be read."""


class StateUnwritableError(HostEnvironmentError):
    """A state file cannot be written now (disk full, I/O error); nothing was lost or removed."""

    exit_code = 75  # EX_TEMPFAIL: try again later (systemd restarts on it)


class CatalogueError(SentinelError):
    """The vendor catalogue is missing, malformed or inconsistent."""


class InputFileError(SentinelError):
    """A file given to ``classify`` or ``explain`` cannot be read or understood."""


class ProtocolError(SentinelError):
    """Bytes from a device do not form the message the protocol expects."""


class TruncatedError(ProtocolError):
    """The message ends before its framing says it should."""


class OversizeError(ProtocolError):
    """The message, or a part of it, exceeds a size limit."""


class MalformedError(ProtocolError):
    """The message is not well formed for its protocol."""


class MalformedXmlError(MalformedError):
    """XML that is not well formed, or uses forbidden constructs (DTD, entities)."""


class ProbeError(SentinelError):
    """A discovery probe failed as a whole."""


class ProbeTimeoutError(ProbeError, TimeoutError):
    """A discovery probe ran out of time."""


class MqttError(SentinelError):
    """The MQTT broker refused or dropped us."""


class IsolationError(SentinelError):
    """An isolation backend could not apply or remove a rule."""


class SafetyRailError(IsolationError):
    """A safety rail refused an isolation request."""
