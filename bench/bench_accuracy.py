"""Attribution accuracy: the agent against nmap -sV (with MAC vendors) on the labelled corpus.

Builds the LAN with every honest profile (198.18.0.0/24 and the routed
198.18.1.0/24), then runs once each from the scanner namespace:

  agent: cctv-sentinel scan --format json --regimes <US lists>
  nmap:  nmap -n -T4 -sT -sV --version-light -p <ports> --script broadcast-wsdd-discover,
         broadcast-upnp-info,rtsp-methods,http-headers,http-title -oX - <both networks>

and scores both against each profile's ground truth (`truth` in the profile):

  restricted recall   restricted cameras flagged restricted / restricted cameras
  false restricted    devices flagged restricted that are not (non-cameras included)
  maker accuracy      cameras whose real maker is named right / cameras
  brand accuracy      cameras whose label (brand) is named right / cameras

"Restricted" follows the profiles' truth: covered by the FCC Covered List, NDAA
s.889 or the Entity List, so the agent runs with exactly those regimes. nmap
has no notion of makers or regimes: we read what it names (the -sV product,
then script output, then the MAC vendor) the way a person would, map that
name to a catalogue vendor literally (no OEM or parent resolution: that is our
product), and count it restricted when a US regime covers that vendor
(affiliates included, which is generous to nmap). Needs root.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from cctv_sentinel.identify import load_catalogue
from cctv_sentinel.identify.catalogue import Catalogue
from cctv_sentinel.identify.risk import covering_regimes
from tests.lab import netlab
from tests.lab.profiles import Profile, load_corpus

AGENT = str(Path(sys.executable).with_name("cctv-sentinel"))
NETWORKS = ("198.18.0.0/24", "198.18.1.0/24")
PORTS = "80,443,554,8000,8080,8443,8899,34567,37777"
US_REGIMES = ("us-fcc-covered-list", "us-ndaa-889", "us-entity-list")
SCRIPTS = "broadcast-wsdd-discover,broadcast-upnp-info,rtsp-methods,http-headers,http-title"
CAMERA_KINDS = {"camera", "recorder"}


def _norm(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def brand_matches(said: str | None, truth: str | None) -> bool:
    """A label is right when it names the truth's brand ("Ubiquiti" for "Ubiquiti UniFi")."""
    a, b = _norm(said), _norm(truth)
    return bool(a and b) and (a in b or b in a)


def model_exposed(profile: Profile) -> bool:
    """True when the device says its model somewhere without credentials (outside its truth)."""
    model = _norm(profile.truth.model)
    answers = {k: v for k, v in profile.raw.items() if k not in {"truth", "credentials"}}
    return len(model) >= 3 and model in _norm(json.dumps(answers))


def model_matches(said: str | None, truth: str | None) -> bool:
    """A model is right when one contains the other, ignoring case and signs."""
    a, b = _norm(said), _norm(truth)
    return len(a) >= 3 and bool(b) and (a in b or b in a)


def vendor_matcher(catalogue: Catalogue) -> list[tuple[re.Pattern[str], str]]:
    """Patterns for every name a vendor goes by, longest first (so 'Prama Hikvision' wins)."""
    names: list[tuple[str, str]] = []
    for vendor in catalogue.vendors.values():
        for name in (vendor.name, *vendor.aliases, *vendor.ieee_names):
            if len(name) >= 3:
                names.append((name, vendor.id))
    names.sort(key=lambda item: -len(item[0]))
    return [
        (re.compile(r"\b" + re.escape(name) + r"\b", re.IGNORECASE), vid) for name, vid in names
    ]


def name_vendor(texts: list[str], matcher: list[tuple[re.Pattern[str], str]]) -> str | None:
    for text in texts:
        for pattern, vendor_id in matcher:
            if pattern.search(text):
                return vendor_id
    return None


def nmap_verdicts(xml: str, catalogue: Catalogue) -> dict[str, dict[str, Any]]:
    """What nmap names per host: {ip: {"vendor": id or None, "texts": [...]}}."""
    matcher = vendor_matcher(catalogue)
    out: dict[str, dict[str, Any]] = {}
    root = ElementTree.fromstring(xml)
    for host in root.iter("host"):
        ip = next(
            (a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4"), None
        )
        if ip is None:
            continue
        products: list[str] = []
        scripts: list[str] = []
        for port in host.iter("port"):
            service = port.find("service")
            if service is not None:
                products.append(
                    " ".join(filter(None, (service.get("product"), service.get("extrainfo"))))
                )
            for script in port.iter("script"):
                scripts.append(script.get("output") or "")
        mac_vendor = [
            a.get("vendor") or "" for a in host.iter("address") if a.get("addrtype") == "mac"
        ]
        texts = [t for t in (*products, *scripts, *mac_vendor) if t]
        out[ip] = {"vendor": name_vendor(texts, matcher), "open": bool(products or scripts)}
    return out


def score(profiles: list[Profile], verdicts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """verdicts: ip -> {"camera": bool, "maker": id|None, "brand": str|None, "restricted": bool}."""
    cameras = [p for p in profiles if p.truth.kind in CAMERA_KINDS]
    restricted = [p for p in cameras if p.truth.restricted]
    flagged = {ip for ip, v in verdicts.items() if v.get("restricted")}
    truly = {p.network.ip for p in restricted}
    maker_ok = [
        p.id for p in cameras if verdicts.get(p.network.ip, {}).get("maker") == p.truth.manufacturer
    ]
    brand_ok = [
        p.id
        for p in cameras
        if brand_matches(verdicts.get(p.network.ip, {}).get("brand"), p.truth.brand)
    ]
    non_cameras = [p for p in profiles if p.truth.kind not in CAMERA_KINDS]
    exposed = [p for p in cameras if model_exposed(p)]
    model_ok = [
        p.id
        for p in exposed
        if model_matches(verdicts.get(p.network.ip, {}).get("model"), p.truth.model)
    ]
    return {
        "cameras": len(cameras),
        "recognised": sum(1 for p in cameras if p.network.ip in verdicts),
        "non_cameras": len(non_cameras),
        "non_camera_as_camera": sum(1 for p in non_cameras if p.network.ip in verdicts),
        "model_exposed": len(exposed),
        "model_right": len(model_ok),
        "restricted_cameras": len(restricted),
        "restricted_recall": round(len(flagged & truly) / len(truly), 4),
        "false_restricted": len(flagged - truly),
        "false_restricted_ips": sorted(flagged - truly),
        "maker_accuracy": round(len(maker_ok) / len(cameras), 4),
        "brand_accuracy": round(len(brand_ok) / len(cameras), 4),
        "maker_wrong": sorted(p.id for p in cameras if p.id not in maker_ok),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--agent-only", action="store_true", help="skip nmap (minutes)")
    args = parser.parse_args(argv)
    reason = netlab.lab_unavailable_reason()
    if reason:
        print(f"bench_accuracy: {reason}", file=sys.stderr)
        return 2
    catalogue = load_catalogue()
    profiles = load_corpus()
    with netlab.Lab() as lab:
        lan = lab.build_lan(profiles)
        start = time.perf_counter()
        agent = lan.exec_in_scanner(
            [
                AGENT,
                "scan",
                "--format",
                "json",
                "--no-progress",
                "--regimes",
                ",".join(US_REGIMES),
                *(a for net in NETWORKS for a in ("--network", net)),
            ],
            timeout=120,
            capture_output=True,
            text=True,
        )
        agent_s = time.perf_counter() - start
        lan.flush_neigh()
        start = time.perf_counter()
        nmap = (
            None
            if args.agent_only
            else lan.exec_in_scanner(
                [
                    "nmap",
                    "-n",
                    "-T4",
                    "-sT",
                    "-sV",
                    "--version-light",
                    "-p",
                    PORTS,
                    "--script",
                    SCRIPTS,
                    "-oX",
                    "-",
                    *NETWORKS,
                ],
                timeout=1800,
                capture_output=True,
                text=True,
            )
        )
        nmap_s = time.perf_counter() - start
    if agent.returncode not in {0, 1}:
        print(f"bench_accuracy: the scan failed: {agent.stderr.strip()[-2000:]}", file=sys.stderr)
        return 2
    doc = json.loads(agent.stdout)
    if doc["scan"]["errors"]:
        print(f"bench_accuracy: scan errors: {doc['scan']['errors']}", file=sys.stderr)
    agent_verdicts = {
        c["ip"]: {
            "maker": c["manufacturer_id"],
            "brand": c["brand"],
            "model": c["model"],
            "restricted": c["risk"] == "restricted",
        }
        for c in doc["cameras"]
    }
    agent_score = {"seconds": round(agent_s, 2), **score(profiles, agent_verdicts)}
    if nmap is None:
        result = {
            "catalogue_version": catalogue.version,
            "devices": len(profiles),
            "agent": agent_score,
        }
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return 0
    us = set(US_REGIMES)
    nmap_verdicts_raw = nmap_verdicts(nmap.stdout, catalogue)
    nmap_verdicts_ = {
        ip: {
            "maker": v["vendor"],
            "brand": catalogue.name_of(v["vendor"]) if v["vendor"] else None,
            "restricted": bool(v["vendor"] and us & set(covering_regimes(catalogue, v["vendor"]))),
        }
        for ip, v in nmap_verdicts_raw.items()
    }
    result = {
        "catalogue_version": catalogue.version,
        "devices": len(profiles),
        "agent": agent_score,
        "nmap": {"seconds": round(nmap_s, 2), **score(profiles, nmap_verdicts_)},
    }
    print(json.dumps(result, indent=2))
    a, n = result["agent"], result["nmap"]
    print(
        "\n| tool | restricted recall | false restricted | maker accuracy | brand accuracy | time (s) |\n"
        "|---|---|---|---|---|---|\n"
        f"| cctv-sentinel scan | {a['restricted_recall']:.0%} | {a['false_restricted']} | "
        f"{a['maker_accuracy']:.1%} | {a['brand_accuracy']:.1%} | {a['seconds']} |\n"
        f"| nmap -sV + scripts + MAC vendor | {n['restricted_recall']:.0%} | {n['false_restricted']} | "
        f"{n['maker_accuracy']:.1%} | {n['brand_accuracy']:.1%} | {n['seconds']} |"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
