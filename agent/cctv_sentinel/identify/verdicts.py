"""From hosts to verdicts: attribution and risk of every host, the cameras among them (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from cctv_sentinel.identify import explain, identify, load_catalogue
from cctv_sentinel.identify.catalogue import Catalogue
from cctv_sentinel.identify.other import other_device
from cctv_sentinel.identify.policy import Policy
from cctv_sentinel.model import Camera, Host, OtherDevice, ScanInfo, ScanResult


def load_identity(policy: Policy | None = None) -> tuple[Catalogue, Policy]:
    """The packaged catalogue and the given (or default) policy."""
    return load_catalogue(), policy or Policy()


def cameras_among(hosts: Iterable[Host], catalogue: Catalogue, policy: Policy) -> list[Camera]:
    """Identify every host and keep the cameras (and recorders)."""
    return judge_hosts(hosts, catalogue, policy)[0]


def judge_hosts(
    hosts: Iterable[Host], catalogue: Catalogue, policy: Policy
) -> tuple[list[Camera], list[OtherDevice]]:
    """Identify every host: the cameras, and the other equipment a regime may cover."""
    cameras: list[Camera] = []
    others: list[OtherDevice] = []
    for host in hosts:
        attribution, assessment = identify(host, catalogue, policy)
        if attribution.is_camera:
            cameras.append(Camera(host=host, attribution=attribution, assessment=assessment))
            continue
        other = other_device(host, attribution, catalogue, policy)
        if other is not None:
            others.append(other)
    return cameras, others


def result_for_hosts(
    info: ScanInfo, hosts: Iterable[Host], catalogue: Catalogue, policy: Policy
) -> ScanResult:
    """Verdicts for hosts that came from anywhere (a scan, a saved file, nmap)."""
    host_list = tuple(hosts)
    cameras, others = judge_hosts(host_list, catalogue, policy)
    return ScanResult(
        info=info, hosts=host_list, cameras=tuple(cameras), other_devices=tuple(others)
    )


def explain_lines(result: ScanResult, catalogue: Catalogue | None = None) -> list[str]:
    """The evidence chain of every camera, for ``--explain``."""
    lines: list[str] = []
    for camera in result.cameras:
        lines.extend(explain(camera.host, camera.attribution, camera.assessment, catalogue))
        lines.append("")
    return lines
