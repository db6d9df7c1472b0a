"""ONVIF device service (SOAP 1.2) answering the calls the agent makes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final

from tests.lab.emulator import hostile
from tests.lab.emulator.xmlparse import Node, XmlError, escape, parse

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.lab.emulator.auth import Credentials
    from tests.lab.emulator.context import Device

NS_SOAP: Final = "http://www.w3.org/2003/05/soap-envelope"
NS_TDS: Final = "http://www.onvif.org/ver10/device/wsdl"
NS_TT: Final = "http://www.onvif.org/ver10/schema"
NS_TER: Final = "http://www.onvif.org/ver10/error"
CONTENT_TYPE: Final = "application/soap+xml; charset=utf-8"
UNAUTHENTICATED: Final = frozenset({"GetSystemDateAndTime"})
"""ONVIF Core 5.9.4: the only call every device must answer without credentials."""

Reply = tuple[int, str, bytes]
"""HTTP status, content type, body."""


def _envelope(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<env:Envelope xmlns:env="{NS_SOAP}" xmlns:tds="{NS_TDS}" '
        f'xmlns:tt="{NS_TT}" xmlns:ter="{NS_TER}">'
        f"<env:Body>{body}</env:Body></env:Envelope>"
    ).encode()


def fault(code: str, subcode: str, reason: str) -> bytes:
    """A SOAP 1.2 Fault with an ONVIF ``ter:`` subcode."""
    return _envelope(
        "<env:Fault><env:Code>"
        f"<env:Value>env:{code}</env:Value>"
        f"<env:Subcode><env:Value>ter:{subcode}</env:Value></env:Subcode>"
        "</env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(reason)}</env:Text></env:Reason>'
        "</env:Fault>"
    )


class OnvifService:
    """Dispatches SOAP requests to the device-management operations."""

    def __init__(self, device: Device, credentials: Credentials | None) -> None:
        self.device = device
        self.block: dict[str, Any] = device.raw["onvif"]
        self.credentials = credentials
        self.operations: dict[str, Callable[[str], str]] = {
            "GetSystemDateAndTime": self._date_time,
            "GetDeviceInformation": self._device_information,
            "GetNetworkInterfaces": self._network_interfaces,
            "GetScopes": self._scopes,
            "GetCapabilities": self._capabilities,
            "GetServices": self._services,
        }

    def handle(self, body: bytes, local: tuple[str, int], peer: object) -> Reply:
        """Answer one SOAP request; ``local`` is the server socket's address."""
        if self.device.hostile.get("onvif_xml_bomb"):
            self.device.log("onvif", peer, "answered with an XML bomb")
            return 200, CONTENT_TYPE, hostile.xml_bomb_soap()
        try:
            root = parse(body)
        except XmlError as err:
            self.device.log("onvif", peer, f"bad XML ({err})")
            return 400, CONTENT_TYPE, fault("Sender", "WellFormed", "XML not well formed")
        request = root.path("Body")
        operation = request.children[0] if request and request.children else None
        if root.name != "Envelope" or operation is None:
            return 400, CONTENT_TYPE, fault("Sender", "WellFormed", "no SOAP body")
        name = operation.name
        handler = self.operations.get(name)
        if handler is None:
            self.device.log("onvif", peer, f"{name}: not supported")
            return (
                500,
                CONTENT_TYPE,
                fault("Receiver", "ActionNotSupported", "Optional Action Not Implemented"),
            )
        needs_auth = name not in UNAUTHENTICATED and self.block.get("auth_required", True)
        if needs_auth and not self._authorised(root):
            self.device.log("onvif", peer, f"{name}: not authorised")
            status = int(self.block.get("fault_status", 400))
            return (
                status,
                CONTENT_TYPE,
                fault("Sender", "NotAuthorized", "Sender not Authorized"),
            )
        self.device.log("onvif", peer, f"{name}: answered")
        return 200, CONTENT_TYPE, _envelope(handler(self._xaddr(local)))

    def _authorised(self, root: Node) -> bool:
        token = root.path("Header", "Security", "UsernameToken")
        if token is None or self.credentials is None:
            return False
        username = token.child("Username")
        password = token.child("Password")
        if username is None or password is None:
            return False
        nonce = token.child("Nonce")
        created = token.child("Created")
        return self.credentials.check_username_token(
            username.text.strip(),
            password.text,
            password.attrs.get("Type", "#PasswordDigest"),
            nonce.text.strip() if nonce is not None else "",
            created.text.strip() if created is not None else "",
        )

    def _xaddr(self, local: tuple[str, int]) -> str:
        # A device reports the address the client reached it on, as real ones do.
        host, port = local
        netloc = host if port == 80 else f"{host}:{port}"
        return f"http://{netloc}{self.block['path']}"

    # --- operations -----------------------------------------------------------
    def _date_time(self, _xaddr: str) -> str:
        now = dt.datetime.now(dt.UTC)
        stamp = (
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
            f"<tt:Second>{now.second}</tt:Second></tt:Time>"
            f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
            f"<tt:Day>{now.day}</tt:Day></tt:Date>"
        )
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime>{stamp}</tt:UTCDateTime>"
            f"<tt:LocalDateTime>{stamp}</tt:LocalDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _device_information(self, _xaddr: str) -> str:
        info = self.block["device_information"]
        fields = "".join(
            f"<tds:{key}>{escape(str(info.get(key, '')))}</tds:{key}>"
            for key in (
                "Manufacturer",
                "Model",
                "FirmwareVersion",
                "SerialNumber",
                "HardwareId",
            )
        )
        return f"<tds:GetDeviceInformationResponse>{fields}</tds:GetDeviceInformationResponse>"

    def _network_interfaces(self, _xaddr: str) -> str:
        ip = self.device.profile.network.ip
        items = ""
        for iface in self.block.get("network_interfaces") or []:
            items += (
                f'<tds:NetworkInterfaces token="{escape(iface["token"])}">'
                "<tt:Enabled>true</tt:Enabled>"
                f"<tt:Info><tt:Name>{escape(iface['name'])}</tt:Name>"
                f"<tt:HwAddress>{escape(iface['mac'])}</tt:HwAddress>"
                "<tt:MTU>1500</tt:MTU></tt:Info>"
                "<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>"
                f"<tt:Manual><tt:Address>{ip}</tt:Address>"
                "<tt:PrefixLength>24</tt:PrefixLength></tt:Manual>"
                "<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>"
                "</tds:NetworkInterfaces>"
            )
        return f"<tds:GetNetworkInterfacesResponse>{items}</tds:GetNetworkInterfacesResponse>"

    def _scopes(self, _xaddr: str) -> str:
        scopes = self.block.get("scopes")
        if scopes is None:
            wsd = self.device.raw.get("wsd") or {}
            scopes = wsd.get("scopes", [])
        items = "".join(
            "<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef>"
            f"<tt:ScopeItem>{escape(s)}</tt:ScopeItem></tds:Scopes>"
            for s in scopes
        )
        return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"

    def _capabilities(self, xaddr: str) -> str:
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{escape(xaddr)}</tt:XAddr>"
            "<tt:Network><tt:IPFilter>false</tt:IPFilter>"
            "<tt:ZeroConfiguration>false</tt:ZeroConfiguration>"
            "<tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS>"
            "</tt:Network>"
            "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve>"
            "<tt:DiscoveryBye>true</tt:DiscoveryBye>"
            "<tt:RemoteDiscovery>false</tt:RemoteDiscovery>"
            "<tt:SystemBackup>false</tt:SystemBackup>"
            "<tt:SystemLogging>false</tt:SystemLogging>"
            "<tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>"
            "<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor>"
            "</tt:SupportedVersions></tt:System>"
            "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>"
            "<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration>"
            "<tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>"
            "<tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken>"
            "<tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken>"
            "</tt:Security></tt:Device>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def _services(self, xaddr: str) -> str:
        return (
            "<tds:GetServicesResponse><tds:Service>"
            f"<tds:Namespace>{NS_TDS}</tds:Namespace>"
            f"<tds:XAddr>{escape(xaddr)}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>"
            "</tds:Service></tds:GetServicesResponse>"
        )
