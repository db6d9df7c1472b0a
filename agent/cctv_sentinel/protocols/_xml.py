"""The one way device XML is parsed: defusedxml, with size, depth and count caps.

DTDs are refused outright (no camera needs one), which also refuses entity
expansion ("billion laughs") and external entities.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element  # noqa: TID251  (type only; parsing is defused)

import defusedxml.ElementTree as DET  # noqa: N814
from defusedxml import DefusedXmlException

from cctv_sentinel.errors import MalformedXmlError, OversizeError
from cctv_sentinel.limits import MAX_XML_DEPTH, MAX_XML_ELEMENTS

__all__ = [
    "Element",
    "child",
    "children",
    "descendants",
    "escape",
    "first",
    "local",
    "parse",
    "text",
]


def parse(data: bytes, max_bytes: int) -> Element:
    """Parse ``data`` as XML, or raise a ProtocolError subclass.

    Raises OversizeError when ``data`` exceeds ``max_bytes`` or the tree is too
    deep or too large, MalformedXmlError when it is not well formed or uses a
    DTD or entities.
    """
    if len(data) > max_bytes:
        raise OversizeError(f"XML of {len(data)} bytes exceeds {max_bytes}")
    if not data.strip():
        raise MalformedXmlError("empty XML document")
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise MalformedXmlError(f"forbidden XML construct: {type(err).__name__}") from err
    except DET.ParseError as err:
        raise MalformedXmlError(f"XML not well formed: {err}") from err
    except (ValueError, UnicodeError, LookupError, RecursionError) as err:
        # LookupError: the XML declaration names an encoding Python has no codec for.
        raise MalformedXmlError(f"XML not well formed: {type(err).__name__}") from err
    _check_shape(root)
    return root


def _check_shape(root: Element) -> None:
    count = 0
    stack: list[tuple[Element, int]] = [(root, 1)]
    while stack:
        elem, depth = stack.pop()
        count += 1
        if depth > MAX_XML_DEPTH:
            raise OversizeError(f"XML nested deeper than {MAX_XML_DEPTH}")
        if count > MAX_XML_ELEMENTS:
            raise OversizeError(f"XML has more than {MAX_XML_ELEMENTS} elements")
        stack.extend((c, depth + 1) for c in elem)


def local(tag: str) -> str:
    """Return the local name of a ``{namespace}name`` tag."""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag.rsplit(":", 1)[-1]


def children(elem: Element, name: str) -> Iterator[Element]:
    """Yield direct children whose local name is ``name`` (any namespace)."""
    return (c for c in elem if local(c.tag) == name)


def child(elem: Element | None, *path: str) -> Element | None:
    """Follow local names down from ``elem``; None when any step is missing."""
    node = elem
    for name in path:
        if node is None:
            return None
        node = next(children(node, name), None)
    return node


def descendants(elem: Element, name: str) -> Iterator[Element]:
    """Yield every descendant (and ``elem`` itself) with local name ``name``."""
    return (e for e in elem.iter() if local(e.tag) == name)


def text(elem: Element | None, *path: str) -> str | None:
    """Return the text of ``elem/path`` or None (raw, not yet cleaned)."""
    node = child(elem, *path) if path else elem
    if node is None or node.text is None:
        return None
    return node.text


def escape(value: str) -> str:
    """Escape text for an XML element or a double-quoted attribute we build."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def first(elem: Element | None, name: str) -> Element | None:
    """Return the first descendant (or ``elem`` itself) with local name ``name``."""
    if elem is None:
        return None
    return next(descendants(elem, name), None)
