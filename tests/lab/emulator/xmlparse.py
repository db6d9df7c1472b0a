"""A small hardened XML reader for requests the emulator receives.

Built on expat with every DTD refused, so entity expansion and external
entities cannot happen; sizes, depth and element counts are capped. The
agent uses defusedxml; the emulator stays on the standard library so that the
two are independent implementations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from xml.parsers import expat

MAX_BYTES: Final = 262_144
"""Largest document accepted: SOAP requests from clients are a few KiB."""

MAX_DEPTH: Final = 32
MAX_NODES: Final = 2_048


class XmlError(ValueError):
    """The input is not acceptable XML (malformed, DTD, too big, too deep)."""


@dataclass
class Node:
    """One element: namespace URI, local name, attributes, text and children."""

    ns: str
    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def child(self, name: str) -> Node | None:
        """The first child with this local name, or None."""
        for node in self.children:
            if node.name == name:
                return node
        return None

    def path(self, *names: str) -> Node | None:
        """Follow first children by local name, or None if any step is missing."""
        node: Node | None = self
        for name in names:
            if node is None:
                return None
            node = node.child(name)
        return node

    def iter(self) -> Iterator[Node]:
        """This node and every descendant, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def _split(tag: str) -> tuple[str, str]:
    if " " in tag:
        ns, name = tag.split(" ", 1)
        return ns, name
    return "", tag


def parse(data: bytes, *, max_bytes: int = MAX_BYTES) -> Node:
    """Parse ``data`` into a Node tree, or raise XmlError."""
    if len(data) > max_bytes:
        raise XmlError(f"document of {len(data)} bytes exceeds {max_bytes}")
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Node] = []
    root: list[Node] = []
    count = 0

    def refuse(*_args: object) -> Any:
        raise XmlError("DTDs and entity declarations are refused")

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise XmlError("too many elements")
        if len(stack) >= MAX_DEPTH:
            raise XmlError("nested too deep")
        ns, name = _split(tag)
        node = Node(ns, name, {_split(k)[1]: v for k, v in attrs.items()})
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        stack.pop()

    def chars(text: str) -> None:
        if stack:
            stack[-1].text += text

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError as err:
        raise XmlError(f"not well formed: {err}") from err
    except (UnicodeError, ValueError) as err:
        if isinstance(err, XmlError):
            raise
        raise XmlError(f"bad encoding: {err}") from err
    if not root:
        raise XmlError("empty document")
    return root[0]


def escape(text: str) -> str:
    """Escape text for element content and double-quoted attributes."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
