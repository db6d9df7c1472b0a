"""Saved scans and nmap inventories as hosts, for offline verdicts (classify, report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cctv_sentinel.discovery.hosts import group_hosts
from cctv_sentinel.errors import InputFileError, ProtocolError
from cctv_sentinel.model import Host, Observation
from cctv_sentinel.protocols.nmapxml import parse_nmap_xml

MAX_INPUT_FILE = 256 * 1024 * 1024
"""Largest input read: a raw scan of a /16 full of cameras is about 100 MiB."""


def _from_scan_json(path: Path, doc: Any) -> list[Host]:
    if not isinstance(doc, dict) or ("cameras" not in doc and "hosts" not in doc):
        raise InputFileError(f"{path}: not a cctv-sentinel scan (no 'hosts' or 'cameras')")
    hosts = doc.get("hosts")
    if hosts is None:
        raise InputFileError(
            f"{path}: has no raw observations; save scans with --format json --raw to classify them"
        )
    if not isinstance(hosts, list):
        raise InputFileError(f"{path}: 'hosts' must be a list")
    observations: list[Observation] = []
    for i, host in enumerate(hosts):
        if not isinstance(host, dict) or not isinstance(host.get("observations"), list):
            raise InputFileError(f"{path}: hosts[{i}] has no 'observations' list")
        for j, raw in enumerate(host["observations"]):
            if not isinstance(raw, dict):
                raise InputFileError(f"{path}: hosts[{i}].observations[{j}] is not an object")
            try:
                observations.append(Observation.from_json(raw))
            except ValueError as err:
                raise InputFileError(f"{path}: hosts[{i}].observations[{j}]: {err}") from err
    return group_hosts(observations)


def load_hosts(path: Path) -> list[Host]:
    """Read one saved scan (``scan --format json --raw``) or nmap XML (``-oX``).

    Raises InputFileError with one line naming the file and the problem.
    """
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_FILE:
            raise InputFileError(f"{path}: larger than {MAX_INPUT_FILE // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except OSError as err:
        raise InputFileError(f"cannot read {path}: {err.strerror or err}") from err
    head = data.lstrip()[:1]
    if head == b"<":
        try:
            return group_hosts(parse_nmap_xml(data))
        except (InputFileError, ProtocolError) as err:
            raise InputFileError(f"{path}: {err}") from err
    if head == b"{":
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError) as err:
            raise InputFileError(f"{path}: not valid JSON ({type(err).__name__})") from err
        return _from_scan_json(path, doc)
    raise InputFileError(f"{path}: neither a cctv-sentinel JSON scan nor nmap XML")
