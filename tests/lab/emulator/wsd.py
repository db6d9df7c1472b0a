"""WS-Discovery (2005/04, as ONVIF uses it) target service on UDP 3702."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any, Final

from tests.lab.emulator import hostile
from tests.lab.emulator.udp import UdpService
from tests.lab.emulator.xmlparse import Node, XmlError, escape, parse

if TYPE_CHECKING:
    from tests.lab.emulator.context import Device

PORT: Final = 3702
GROUP: Final = "239.255.255.250"
NS_SOAP: Final = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD: Final = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
ACTION_PROBE: Final = NS_WSD + "/Probe"
ANONYMOUS: Final = NS_WSA + "/role/anonymous"
TO_DISCOVERY: Final = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
MAX_PROBE: Final = 32_768
"""Probes are under 1 KiB; a larger datagram is not a Probe worth parsing."""

# Prefixes a device declares for the Types it advertises (ONVIF Core 7.3.1,
# WSD for Devices / DPWS for printers and Windows hosts).
KNOWN_PREFIXES: Final = {
    "dn": "http://www.onvif.org/ver10/network/wsdl",
    "tdn": "http://www.onvif.org/ver10/network/wsdl",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "pub": "http://schemas.microsoft.com/windows/pub/2005/07",
    "wsdp": "http://schemas.xmlsoap.org/ws/2006/02/devprof",
    "wprt": "http://schemas.microsoft.com/windows/2006/08/wdp/print",
    "wscn": "http://schemas.microsoft.com/windows/2006/08/wdp/scan",
}


GSOAP_NAMESPACES: Final = {
    "SOAP-ENC": "http://www.w3.org/2003/05/soap-encoding",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xsd": "http://www.w3.org/2001/XMLSchema",
    "c14n": "http://www.w3.org/2001/10/xml-exc-c14n#",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsa5": "http://www.w3.org/2005/08/addressing",
    "xmime": "http://tempuri.org/xmime.xsd",
    "xop": "http://www.w3.org/2004/08/xop/include",
    "tt": "http://www.onvif.org/ver10/schema",
    "wsrfbf": "http://docs.oasis-open.org/wsrf/bf-2",
    "wstop": "http://docs.oasis-open.org/wsn/t-1",
    "wsrfr": "http://docs.oasis-open.org/wsrf/r-2",
    "tan": "http://www.onvif.org/ver20/analytics/wsdl",
    "tdn": "http://www.onvif.org/ver10/network/wsdl",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "timg": "http://www.onvif.org/ver20/imaging/wsdl",
    "tmd": "http://www.onvif.org/ver10/deviceIO/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "trc": "http://www.onvif.org/ver10/recording/wsdl",
    "trp": "http://www.onvif.org/ver10/replay/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tse": "http://www.onvif.org/ver10/search/wsdl",
    "ter": "http://www.onvif.org/ver10/error",
    "tns1": "http://www.onvif.org/ver10/topics",
    "chan": "http://schemas.microsoft.com/ws/2005/02/duplex",
    "saml1": "urn:oasis:names:tc:SAML:1.0:assertion",
    "saml2": "urn:oasis:names:tc:SAML:2.0:assertion",
    "wsc": "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512",
    "tas": "http://www.onvif.org/ver10/advancedsecurity/wsdl",
    "tac": "http://www.onvif.org/ver10/accesscontrol/wsdl",
    "tar": "http://www.onvif.org/ver10/accessrules/wsdl",
    "tcr": "http://www.onvif.org/ver10/credential/wsdl",
    "tsc": "http://www.onvif.org/ver10/schedule/wsdl",
    "tth": "http://www.onvif.org/ver10/thermal/wsdl",
    "tpl": "http://www.onvif.org/ver10/provisioning/wsdl",
}
"""A gSOAP-built camera's namespace table (the ONVIF WSDLs it serves), declared on every
envelope by such firmware (``--gsoap-envelope``): it is what makes real ProbeMatches 2.5-4 KiB."""


def local_names(qnames: str) -> list[str]:
    """Local parts of a whitespace-separated QName list."""
    return [q.rsplit(":", 1)[-1] for q in qnames.split() if q]


def scope_matches(wanted: str, scopes: list[str]) -> bool:
    """RFC 3986 segment-prefix match (the WS-Discovery default MatchBy)."""
    want = wanted.rstrip("/")
    for scope in scopes:
        have = scope.rstrip("/")
        if have.lower() == want.lower():
            return True
        if have.lower().startswith(want.lower() + "/"):
            return True
    return False


class WsDiscovery:
    """Answers Probes with ProbeMatches; can announce Hello and Bye."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.block: dict[str, Any] = device.raw["wsd"]
        self.udp = UdpService(device, "wsd", PORT)
        self.instance_id = int(time.time())
        self.message_number = 0

    async def start(self) -> None:
        """Bind 3702 and join 239.255.255.250."""
        await self.udp.start(self.on_datagram, [GROUP])

    def close(self) -> None:
        """Close the socket."""
        self.udp.close()

    # --- receiving ---------------------------------------------------------
    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """Answer a matching Probe after a random delay; ignore anything else."""
        if len(data) > MAX_PROBE:
            self.device.log("wsd", addr, f"dropped {len(data)}-byte datagram")
            return
        try:
            root = parse(data, max_bytes=MAX_PROBE)
        except XmlError as err:
            self.device.log("wsd", addr, f"ignored bad XML ({err})")
            return
        probe = root.path("Body", "Probe")
        action = root.path("Header", "Action")
        if probe is None or (action is not None and action.text.strip() != ACTION_PROBE):
            return  # Hello, Bye, ProbeMatches (ours echoed back), Resolve...
        message_id = (root.path("Header", "MessageID") or Node("", "")).text.strip()
        if not self.matches(probe):
            self.device.log("wsd", addr, "Probe not matching; silent")
            return
        self.device.log("wsd", addr, "Probe matched")
        reply = self.reply_for(message_id)
        self.udp.later(self.device.delay(), lambda: self.udp.send(reply, addr))

    def matches(self, probe: Node) -> bool:
        """Apply the Types rule of the brief and the default scope rule."""
        types_node = probe.child("Types")
        wanted = local_names(types_node.text) if types_node is not None else []
        if not wanted:
            if not self.block.get("answer_empty_probe", True):
                return False
        else:
            answer = self.block.get("answer_types") or local_names(self.block["types"])
            if not any(name in answer for name in wanted):
                return False
        scopes_node = probe.child("Scopes")
        if scopes_node is not None and scopes_node.text.split():
            return all(scope_matches(s, self.block["scopes"]) for s in scopes_node.text.split())
        return True

    # --- messages ------------------------------------------------------------
    def reply_for(self, relates_to: str) -> bytes:
        """The bytes to send for a matched Probe (honest or hostile)."""
        if self.device.hostile.get("wsd_xml_bomb"):
            return hostile.xml_bomb_probe_matches(relates_to)
        body = self._match_body("ProbeMatches", "ProbeMatch")
        if self.device.hostile.get("wsd_oversize"):
            body = self._oversize_body()
        return self._envelope(NS_WSD + "/ProbeMatches", ANONYMOUS, body, relates_to)

    def hello(self) -> bytes:
        """A Hello announcement."""
        body = self._match_body(None, "Hello")
        return self._envelope(NS_WSD + "/Hello", TO_DISCOVERY, body, None)

    def bye(self) -> bytes:
        """A Bye announcement."""
        body = f"<d:Bye>{self._endpoint()}</d:Bye>"
        return self._envelope(NS_WSD + "/Bye", TO_DISCOVERY, body, None)

    def announce(self, message: bytes) -> bool:
        """Multicast an announcement (Hello/Bye); False when multicast is off."""
        return self.udp.send_multicast(message, GROUP, PORT)

    def _endpoint(self) -> str:
        return (
            "<wsa:EndpointReference><wsa:Address>"
            f"{escape(self.block['endpoint'])}"
            "</wsa:Address></wsa:EndpointReference>"
        )

    def _match_body(self, wrapper: str | None, element: str) -> str:
        block = self.block
        inner = (
            f"<d:{element}>{self._endpoint()}"
            f"<d:Types>{escape(block['types'])}</d:Types>"
            f"<d:Scopes>{escape(' '.join(block['scopes']))}</d:Scopes>"
            f"<d:XAddrs>{escape(' '.join(block['xaddrs']))}</d:XAddrs>"
            f"<d:MetadataVersion>{int(block.get('metadata_version', 1))}"
            f"</d:MetadataVersion></d:{element}>"
        )
        return f"<d:{wrapper}>{inner}</d:{wrapper}>" if wrapper else inner

    def _oversize_body(self) -> str:
        # 60 KiB of well-formed scopes: tests the receiver's size cap, not its parser.
        filler = " ".join(f"onvif://www.onvif.org/location/pad/{i:05d}" for i in range(1500))
        block = self.block
        return (
            f"<d:ProbeMatches><d:ProbeMatch>{self._endpoint()}"
            f"<d:Types>{escape(block['types'])}</d:Types>"
            f"<d:Scopes>{escape(filler)}</d:Scopes>"
            f"<d:XAddrs>{escape(' '.join(block['xaddrs']))}</d:XAddrs>"
            "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>"
        )

    def _namespaces(self) -> str:
        decls = {
            "SOAP-ENV": NS_SOAP,
            "wsa": NS_WSA,
            "d": NS_WSD,
        }
        if self.device.options.gsoap_envelope:
            for prefix, uri in GSOAP_NAMESPACES.items():
                decls.setdefault(prefix, uri)
        for qname in self.block["types"].split():
            if ":" in qname:
                prefix = qname.split(":", 1)[0]
                decls.setdefault(prefix, KNOWN_PREFIXES.get(prefix, f"urn:x-emulator:{prefix}"))
        return " ".join(f'xmlns:{k}="{escape(v)}"' for k, v in decls.items())

    def _envelope(self, action: str, to: str, body: str, relates_to: str | None) -> bytes:
        self.message_number += 1
        relates = f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>" if relates_to else ""
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<SOAP-ENV:Envelope {self._namespaces()}>"
            "<SOAP-ENV:Header>"
            f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
            f"{relates}"
            f'<wsa:To SOAP-ENV:mustUnderstand="true">{to}</wsa:To>'
            f'<wsa:Action SOAP-ENV:mustUnderstand="true">{action}</wsa:Action>'
            f'<d:AppSequence SOAP-ENV:mustUnderstand="true" '
            f'InstanceId="{self.instance_id}" MessageNumber="{self.message_number}"/>'
            "</SOAP-ENV:Header>"
            f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body>"
            "</SOAP-ENV:Envelope>"
        )
        return text.encode()
