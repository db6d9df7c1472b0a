"""From what was seen to what is printed: catalogue, policy, verdicts, and the scan's formats.

The scan command loads this module in a thread while its probes wait on the
network (see :func:`cctv_sentinel.cli.scan.load_judging`); the verdict
commands import it directly.
"""

from __future__ import annotations

import argparse

from cctv_sentinel.cli.policy import policy_from_args
from cctv_sentinel.discovery.scanner import ScanRun
from cctv_sentinel.identify import Catalogue, load_catalogue
from cctv_sentinel.identify.oui import lookup
from cctv_sentinel.identify.verdicts import explain_lines, result_for_hosts
from cctv_sentinel.model import ScanResult
from cctv_sentinel.report.formats import to_csv, to_json, to_table

__all__ = ["Catalogue", "judge_run", "load_catalogue", "policy_from_args", "prepare", "render"]

_ANY_REGISTERED_MAC = "bc:ad:28:00:00:01"


def prepare() -> Catalogue:
    """Load what judging needs: the catalogue and the IEEE registry index behind OUI lookups.

    Each takes tens of milliseconds the first time.
    """
    catalogue = load_catalogue()
    lookup(_ANY_REGISTERED_MAC)  # loads netaddr's registry index
    return catalogue


def judge_run(run: ScanRun, args: argparse.Namespace, catalogue: Catalogue) -> ScanResult:
    """The verdicts of one scan under the policy the options ask for."""
    return result_for_hosts(run.info(), run.hosts(), catalogue, policy_from_args(args, catalogue))


def render(args: argparse.Namespace, result: ScanResult, catalogue: Catalogue) -> str:
    """The result in the format the options ask for."""
    if args.format == "json":
        return to_json(result, raw=args.raw, catalogue_version=catalogue.version)
    if args.format == "csv":
        return to_csv(result)
    text = to_table(result)
    if args.explain:
        text += "\n" + "\n".join(explain_lines(result, catalogue)) + "\n"
    return text
