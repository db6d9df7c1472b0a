"""Screenshots of the integration in a real Home Assistant (run by scripts/screenshots).

Everything listens on 127.0.0.1 only and lives in a temporary directory: Mosquitto, Home
Assistant (`hass -c`), headless chromium. The agent's side is a replay of retained state
built from the contract examples in tests/fixtures/payloads (twelve restricted cameras among
sixteen, so the grouped repair shows; their addresses are only text). Steps: onboard a user
through Home Assistant's onboarding API, add MQTT and the discovered agent through the
config-flow API, save the integration's own dashboard (cctv_sentinel.dashboard) as a
dashboard, then load each page in chromium over the DevTools protocol and capture it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as paho

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = ROOT / "tests" / "fixtures" / "payloads"
IMAGES = ROOT / "docs" / "images"
HOST = "127.0.0.1"
AGENT = "head-office"
BASE = "cctv_sentinel"
WIDTH, HEIGHT = 1280, 1100

# Replayed restricted cameras: labels Hikvision itself or its OEMs use (see docs/catalogue.md),
# so the example's Hikvision evidence (SADP, ISAPI, OUI BC:AD:28) stays true for each.
CAMERAS = [
    ("Annke", "C800"),
    ("Annke", "I91BM"),
    ("Annke", "C500"),
    ("LTS", "CMIP3042"),
    ("LTS", "CMIP7442"),
    ("LaView", "LV-PB932F4"),
    ("Hikvision", "DS-2CD2143G2-I"),
    ("Hikvision", "DS-7608NI-K2"),
    ("Hikvision", "DS-2CD1023G0E-I"),
    ("HiLook", "IPC-B140H"),
    ("HiWatch", "HWI-B121H"),
    ("Interlogix", "TVB-5601"),
]
LOW = [
    ("Axis", "P3245-LVE"),
    ("Axis", "M3106-L"),
    ("Bosch", "FLEXIDOME 5100i"),
    ("Hanwha", "XNO-6080R"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text("utf-8"))


def retained_state() -> list[tuple[str, str]]:
    """The agent's retained topics: announcement, status, info, cameras."""
    messages = [
        (f"{BASE}/discovery/{AGENT}", json.dumps(payload("announcement"))),
        (f"{BASE}/{AGENT}/status", "online"),
        (f"{BASE}/{AGENT}/info", json.dumps(payload("info"))),
    ]
    restricted, low = payload("camera_restricted"), payload("camera_low")
    for n, (label, model) in enumerate(CAMERAS):
        camera = json.loads(json.dumps(restricted).replace("label Annke", f"label {label}"))
        camera_id = f"bcad28{n:06x}"
        camera.update(
            camera_id=camera_id,
            mac=":".join(camera_id[i : i + 2] for i in range(0, 12, 2)),
            ip=f"192.168.10.{20 + n}",
            brand=label,
            model=model,
        )
        messages.append((f"{BASE}/{AGENT}/camera/{camera_id}", json.dumps(camera)))
    for n, (label, model) in enumerate(LOW):
        camera = json.loads(json.dumps(low))
        camera_id = f"accc8e{n:06x}"
        camera.update(
            camera_id=camera_id,
            mac=":".join(camera_id[i : i + 2] for i in range(0, 12, 2)),
            ip=f"192.168.10.{60 + n}",
            brand=label,
            manufacturer=label,
            model=model,
        )
        messages.append((f"{BASE}/{AGENT}/camera/{camera_id}", json.dumps(camera)))
    return messages


@contextlib.contextmanager
def process(command: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def publish(port: int, messages: list[tuple[str, str]]) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.connect(HOST, port)
    client.loop_start()
    for topic, text in messages:
        client.publish(topic, text, qos=1, retain=True).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


class HomeAssistantApi:
    """Just enough of Home Assistant's REST and websocket APIs."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.tokens: dict[str, Any] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._id = 0

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    async def wait_up(self) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with self.session.get(f"{self.url}/api/onboarding") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(1)
        raise SystemExit("screenshots: Home Assistant did not start (see its log)")

    async def onboard(self) -> None:
        client_id = f"{self.url}/"
        async with self.session.post(
            f"{self.url}/api/onboarding/users",
            json={
                "client_id": client_id,
                "name": "Facilities",
                "username": "facilities",
                "password": "screenshots-only-" + os.urandom(6).hex(),
                "language": "en",
            },
        ) as response:
            code = (await response.json())["auth_code"]
        async with self.session.post(
            f"{self.url}/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": client_id},
        ) as response:
            self.tokens = await response.json()
        for step, body in (
            ("core_config", {}),
            ("analytics", {}),
            ("integration", {"client_id": client_id, "redirect_uri": f"{client_id}?auth_callback"}),
        ):
            async with self.session.post(
                f"{self.url}/api/onboarding/{step}", json=body, headers=self.auth
            ) as response:
                response.raise_for_status()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(f"{self.url}{path}", json=body, headers=self.auth) as response:
            if response.status >= 400:
                raise SystemExit(f"screenshots: {path}: {response.status} {await response.text()}")
            return await response.json()

    async def get(self, path: str) -> Any:
        async with self.session.get(f"{self.url}{path}", headers=self.auth) as response:
            response.raise_for_status()
            return await response.json()

    async def ws(self, message: dict[str, Any]) -> Any:
        if self._ws is None:
            self._ws = await self.session.ws_connect(f"{self.url}/api/websocket")
            await self._ws.receive_json()
            await self._ws.send_json({"type": "auth", "access_token": self.tokens["access_token"]})
            assert (await self._ws.receive_json())["type"] == "auth_ok"
        self._id += 1
        await self._ws.send_json({"id": self._id, **message})
        while True:
            answer = await self._ws.receive_json()
            if answer.get("id") == self._id:
                if not answer.get("success", True):
                    raise SystemExit(f"screenshots: {message['type']}: {answer}")
                return answer.get("result")

    async def add_mqtt(self, port: int) -> None:
        flow = await self.post("/api/config/config_entries/flow", {"handler": "mqtt"})
        while flow["type"] == "form":
            data = {"broker": HOST, "port": port} if flow["step_id"] == "broker" else {}
            flow = await self.post(f"/api/config/config_entries/flow/{flow['flow_id']}", data)
        if flow["type"] != "create_entry":
            raise SystemExit(f"screenshots: MQTT set-up ended with {flow}")

    async def confirm_agent(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            flows = await self.ws({"type": "config_entries/flow/progress"})
            ours = [f for f in flows if f["handler"] == "cctv_sentinel"]
            if ours:
                flow_id = ours[0]["flow_id"]
                result = await self.post(f"/api/config/config_entries/flow/{flow_id}", {})
                if result["type"] != "create_entry":
                    raise SystemExit(f"screenshots: agent set-up ended with {result}")
                return
            await asyncio.sleep(1)
        raise SystemExit("screenshots: the agent was not discovered")

    async def wait_entities(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = await self.get("/api/states")
            ours = [s for s in states if s["entity_id"].endswith("_restricted_vendor")]
            if len(ours) >= count:
                return list(states)
            await asyncio.sleep(1)
        raise SystemExit("screenshots: the cameras' entities did not appear")


class Browser:
    """Headless chromium driven over the DevTools protocol."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self._id = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, session: aiohttp.ClientSession, workdir: Path) -> AsyncIterator[Browser]:
        port = free_port()
        command = [
            shutil.which("chromium") or "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={workdir / 'chromium'}",
            f"--remote-debugging-address={HOST}",
            f"--remote-debugging-port={port}",
            f"--window-size={WIDTH},{HEIGHT}",
            "about:blank",
        ]
        with process(command, workdir / "chromium.log"):
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with session.get(f"http://{HOST}:{port}/json/list") as response:
                        pages = [p for p in await response.json() if p["type"] == "page"]
                    break
                except aiohttp.ClientError:
                    if time.monotonic() > deadline:
                        raise SystemExit("screenshots: chromium did not start") from None
                    await asyncio.sleep(0.5)
            async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                browser = cls(session, ws)
                await browser.call("Page.enable")
                await browser.call(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
                )
                yield browser

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self._id += 1
        await self.ws.send_json({"id": self._id, "method": method, "params": params or {}})
        while True:
            answer = await self.ws.receive_json()
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise SystemExit(f"screenshots: {method}: {answer['error']}")
                return answer.get("result")

    async def open(self, url: str, settle: float = 6.0) -> None:
        await self.call("Page.navigate", {"url": url})
        await asyncio.sleep(settle)

    async def capture(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        print(f"screenshots: {path.relative_to(ROOT)}")


async def take(workdir: Path, mqtt_port: int, url: str) -> None:
    async with aiohttp.ClientSession() as session:
        api = HomeAssistantApi(session, url)
        await api.wait_up()
        await api.onboard()
        await api.add_mqtt(mqtt_port)
        await asyncio.to_thread(publish, mqtt_port, retained_state())
        await api.confirm_agent()
        await api.wait_entities(len(CAMERAS) + len(LOW))
        await asyncio.sleep(3)  # the slices finish, the grouped repair is raised

        response = await api.post("/api/services/cctv_sentinel/dashboard?return_response", {})
        config = response["service_response"]
        await api.ws(
            {
                "type": "lovelace/dashboards/create",
                "url_path": "cctv-sentinel",
                "title": "Cameras",
                "icon": "mdi:cctv",
                "mode": "storage",
                "require_admin": False,
                "show_in_sidebar": True,
            }
        )
        save = {"type": "lovelace/config/save", "url_path": "cctv-sentinel", "config": config}
        await api.ws(save)
        devices = await api.ws({"type": "config/device_registry/list"})
        annke = next(d for d in devices if d["name"] == "Annke C800")

        IMAGES.mkdir(parents=True, exist_ok=True)
        async with Browser.start(session, workdir) as browser:
            await browser.open(url, settle=3)
            tokens = {
                **api.tokens,
                "hassUrl": url,
                "clientId": f"{url}/",
                "expires": int(time.time() * 1000) + api.tokens["expires_in"] * 1000,
            }
            stored = json.dumps(json.dumps(tokens))
            await browser.call(
                "Runtime.evaluate", {"expression": f"localStorage.setItem('hassTokens', {stored})"}
            )
            await browser.open(f"{url}/config/devices/device/{annke['id']}")
            await browser.capture(IMAGES / "ha-device.png")
            await browser.open(f"{url}/config/repairs")
            await browser.capture(IMAGES / "ha-repairs.png")
            await browser.open(f"{url}/cctv-sentinel/estate", settle=8)
            await browser.capture(IMAGES / "ha-dashboard.png")


def main() -> int:
    frontend = os.environ.get("CCTV_FRONTEND", "")
    with tempfile.TemporaryDirectory(prefix="cctv-screenshots-") as tmp:
        workdir = Path(tmp)
        mqtt_port, http_port = free_port(), free_port()
        (workdir / "mosquitto.conf").write_text(
            f"listener {mqtt_port} {HOST}\nallow_anonymous true\npersistence false\n", "utf-8"
        )
        config = workdir / "config"
        (config / "custom_components").mkdir(parents=True)
        (config / "custom_components" / "cctv_sentinel").symlink_to(
            ROOT / "custom_components" / "cctv_sentinel"
        )
        (config / "configuration.yaml").write_text(
            "\n".join(
                [
                    "homeassistant:",
                    "  name: Council offices",
                    "  time_zone: UTC",
                    "  country: GB",
                    "  unit_system: metric",
                    "http:",
                    f"  server_host: {HOST}",
                    f"  server_port: {http_port}",
                    "frontend:",
                    "config:",
                    "history:",
                    "repairs:",
                    "recorder:",
                    "logger:",
                    "  default: warning",
                    "",
                ]
            ),
            "utf-8",
        )
        env = {**os.environ, "PYTHONPATH": frontend}
        hass = [sys.executable, "-m", "homeassistant", "-c", str(config), "--skip-pip"]
        with (
            process(
                ["mosquitto", "-c", str(workdir / "mosquitto.conf")], workdir / "mosquitto.log"
            ),
            process(hass, workdir / "hass.log", env),
        ):
            try:
                asyncio.run(take(workdir, mqtt_port, f"http://{HOST}:{http_port}"))
            except BaseException:
                print((workdir / "hass.log").read_text("utf-8", "replace")[-4000:], file=sys.stderr)
                raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
