"""Verdict commands: ``classify`` (saved scans, nmap XML), ``report`` (saved or live), ``explain``.

They share the policy options with ``scan``: ``--policy FILE`` (YAML, the same
mapping as the ``policy:`` section of the service config) and ``--regimes LIST``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from cctv_sentinel.cli.errors import EXIT_OK, EXIT_RESTRICTED, EXIT_USAGE, say
from cctv_sentinel.cli.estate import add_estate_options, cmd_estate_report
from cctv_sentinel.cli.judging import policy_from_args, render
from cctv_sentinel.cli.options import (
    add_output_option,
    add_policy_options,
    add_scan_options,
    write_output,
)
from cctv_sentinel.cli.scan import live_result
from cctv_sentinel.discovery.saved import load_hosts
from cctv_sentinel.errors import InputFileError, UsageError
from cctv_sentinel.identify import Catalogue, Policy, explain, identify, load_catalogue
from cctv_sentinel.identify.verdicts import result_for_hosts
from cctv_sentinel.model import Host, ScanInfo, ScanResult
from cctv_sentinel.protocols.text import normalise_mac
from cctv_sentinel.report.auditor import to_audit_csv, to_audit_html


def _offline_result(
    hosts: list[Host], catalogue: Catalogue, policy: Policy, sources: list[Path]
) -> ScanResult:
    mtimes = [p.stat().st_mtime for p in sources if p.exists()] or [time.time()]
    probes = tuple(sorted({o.probe for h in hosts for o in h.observations}))
    info = ScanInfo(started=min(mtimes), finished=max(mtimes), networks=(), probes=probes)
    return result_for_hosts(info, hosts, catalogue, policy)


def load_inputs(paths: list[Path]) -> tuple[list[Host], list[str]]:
    """Hosts from every readable file, and one error line per unreadable one."""
    hosts: list[Host] = []
    errors: list[str] = []
    for path in paths:
        try:
            hosts.extend(load_hosts(path))
        except InputFileError as err:
            errors.append(str(err))
    return hosts, errors


def _fail_if_nothing_read(hosts: list[Host], errors: list[str]) -> None:
    if errors and not hosts:
        raise InputFileError("; ".join(errors))


def cmd_classify(args: argparse.Namespace) -> int:
    """Verdicts for saved scans and nmap XML; exit 1 when something is restricted."""
    catalogue = load_catalogue()
    policy = policy_from_args(args, catalogue)
    hosts, errors = load_inputs(args.files)
    _fail_if_nothing_read(hosts, errors)
    result = _offline_result(hosts, catalogue, policy, args.files)
    write_output(args, render(args, result, catalogue))
    for line in errors:
        say(f"error: {line}")
    if errors:
        # What could be read was reported above; the bad input still fails the command.
        raise SystemExit(EXIT_USAGE)
    return EXIT_RESTRICTED if result.any_restricted else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """The auditor's report, from saved inputs (--from), a live scan or a broker (--from-broker)."""
    if args.from_broker:
        return cmd_estate_report(args)
    errors: list[str] = []
    if args.inputs:
        catalogue = load_catalogue()
        policy = policy_from_args(args, catalogue)
        hosts, errors = load_inputs(args.inputs)
        _fail_if_nothing_read(hosts, errors)
        result = _offline_result(hosts, catalogue, policy, args.inputs)
    else:
        result, catalogue = live_result(args)
    text = (
        to_audit_html(result, catalogue, title=args.title)
        if args.format == "html"
        else to_audit_csv(result, catalogue)
    )
    write_output(args, text)
    for line in errors:
        say(f"error: {line}")
    if errors:
        raise SystemExit(EXIT_USAGE)
    return EXIT_RESTRICTED if result.any_restricted else EXIT_OK


def _matches(host: Host, target: str) -> bool:
    mac = normalise_mac(target)
    return host.ip == target or (mac is not None and host.mac == mac)


def cmd_explain(args: argparse.Namespace) -> int:
    """The evidence chain for one device, from saved inputs or a live look at it."""
    target = args.target.strip()
    is_mac = normalise_mac(target) is not None and ("." not in target)
    if args.inputs:
        catalogue = load_catalogue()
        policy = policy_from_args(args, catalogue)
        hosts, errors = load_inputs(args.inputs)
        for line in errors:
            say(f"error: {line}")
    else:
        if not is_mac:
            args.network = [*args.network, f"{target}/32"] if not args.network else args.network
        result, catalogue = live_result(args)
        policy = policy_from_args(args, catalogue)
        hosts = list(result.hosts)
    found = [h for h in hosts if _matches(h, target)]
    if not found:
        raise UsageError(
            f"no device {target} in the input"
            if args.inputs
            else f"{target} did not answer any probe"
        )
    for host in found:
        attribution, assessment = identify(host, catalogue, policy)
        sys.stdout.write("\n".join(explain(host, attribution, assessment, catalogue)) + "\n")
    return 0


def register(sub: Any) -> None:
    """Add ``classify``, ``report`` and ``explain`` to the command line."""
    classify = sub.add_parser(
        "classify", help="verdicts for saved scans (--format json --raw) and nmap XML"
    )
    classify.add_argument("files", nargs="+", type=Path, metavar="FILE")
    classify.add_argument("--format", choices=("table", "json", "csv"), default="table")
    classify.add_argument("--raw", action="store_true", help="JSON: keep the raw observations")
    classify.add_argument(
        "--explain", action="store_true", help="print the evidence chain of every camera"
    )
    add_output_option(classify)
    add_policy_options(classify)
    classify.set_defaults(func=cmd_classify)

    report = sub.add_parser("report", help="inventory report for an auditor (HTML or CSV)")
    report.add_argument(
        "--from",
        dest="inputs",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="saved scan or nmap XML (repeatable); default: scan now",
    )
    report.add_argument("--format", choices=("html", "csv"), default="html")
    report.add_argument("--title", default="Camera inventory", help="title of the HTML report")
    add_output_option(report)
    add_scan_options(report)
    add_policy_options(report)
    add_estate_options(report)
    report.set_defaults(func=cmd_report)

    explain = sub.add_parser("explain", help="the evidence chain for one device (IP or MAC)")
    explain.add_argument("target", metavar="TARGET", help="IP address or MAC address")
    explain.add_argument(
        "--from",
        dest="inputs",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="look it up in a saved scan or nmap XML instead of probing it",
    )
    add_scan_options(explain)
    add_policy_options(explain)
    explain.set_defaults(func=cmd_explain)
