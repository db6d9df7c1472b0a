"""The policy the options ask for (``--policy``, ``--regimes``), checked against the catalogue."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Final

from cctv_sentinel._util.files import load_yaml_mapping
from cctv_sentinel.identify import Catalogue, Policy, check_policy, policy_from_mapping

MAX_POLICY_FILE: Final = 1024 * 1024
"""A policy file over 1 MiB is a mistake."""


def policy_from_args(args: argparse.Namespace, catalogue: Catalogue) -> Policy:
    """The policy the options ask for, checked against the catalogue."""
    data: dict[str, Any] = {}
    if getattr(args, "policy", None) is not None:
        data = read_policy(args.policy)
    if getattr(args, "regimes", None):
        data["regimes"] = [r.strip() for r in args.regimes.split(",") if r.strip()]
    policy = policy_from_mapping(data) if data else Policy()
    check_policy(policy, catalogue)
    return policy


def read_policy(path: Path) -> dict[str, Any]:
    """A policy file: the policy mapping, or a config file's ``policy:`` section alone."""
    data = load_yaml_mapping(path, what="policy file", max_bytes=MAX_POLICY_FILE)
    section = data.get("policy")
    if len(data) == 1 and isinstance(section, dict):
        return section
    return data
