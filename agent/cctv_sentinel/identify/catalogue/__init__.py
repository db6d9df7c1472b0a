"""The vendor catalogue: its data model (:mod:`.model`) and its loader (:mod:`.loader`)."""

from __future__ import annotations

from cctv_sentinel.identify.catalogue.loader import CATALOGUE_DIR, load_catalogue
from cctv_sentinel.identify.catalogue.model import (
    EQUIPMENT_KINDS,
    Catalogue,
    EquipmentCover,
    Fingerprint,
    GenericLabels,
    OemEntry,
    Regime,
    Relation,
    Vendor,
    normalise_label,
)

__all__ = [
    "CATALOGUE_DIR",
    "EQUIPMENT_KINDS",
    "Catalogue",
    "EquipmentCover",
    "Fingerprint",
    "GenericLabels",
    "OemEntry",
    "Regime",
    "Relation",
    "Vendor",
    "load_catalogue",
    "normalise_label",
]
