"""Who really made a device, and what that means: catalogue, attribution, risk.

Everything here is pure (no I/O) except loading the catalogue once.
"""

from __future__ import annotations

from cctv_sentinel.identify.attribution import attribute
from cctv_sentinel.identify.catalogue import Catalogue, load_catalogue
from cctv_sentinel.identify.explain import explain
from cctv_sentinel.identify.policy import Policy, Rules, check_policy, policy_from_mapping
from cctv_sentinel.identify.risk import assess, covering_regimes
from cctv_sentinel.model import Assessment, Attribution, Host

__all__ = [
    "Catalogue",
    "Policy",
    "Rules",
    "assess",
    "attribute",
    "check_policy",
    "covering_regimes",
    "explain",
    "identify",
    "load_catalogue",
    "policy_from_mapping",
]


def identify(host: Host, catalogue: Catalogue, policy: Policy) -> tuple[Attribution, Assessment]:
    """Attribute a host and assess it under the policy, in one call."""
    attribution = attribute(host, catalogue)
    return attribution, assess(attribution, host, catalogue, policy)
