"""Face regions as XMP sidecars in the Metadata Working Group's region schema (MWG-RS), the
format digiKam, Lightroom, Picasa and Immich read and write, plus the names as
`Iptc4xmpExt:PersonInImage`.

MWG areas are fractions of the image: the centre (`stArea:x`, `stArea:y`) and the size, with
`AppliedToDimensions` giving the stored pixel size. They refer to the image as stored, before
its EXIF orientation is applied (as Immich and exiftool's MWG module treat them), while
Keepsake keeps boxes as displayed: both directions convert through the orientation.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from keepsake.errors import InvalidInput
from keepsake.faces.geometry import BoxTuple, display_to_stored, stored_to_display, swaps_sides

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

MAX_XMP_BYTES = 1024 * 1024
"""Largest sidecar accepted. digiKam's sidecars with dozens of regions are a few KiB."""

MAX_REGIONS = 500

_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True)
class Region:
    """A face region: `box` as fractions (0..1) of the photo as displayed; the person's name."""

    box: BoxTuple
    name: str | None


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def render(regions: Sequence[Region], width: int, height: int, orientation: int | None) -> str:
    """An XMP sidecar with these regions, for a photo of `width` x `height` pixels as
    displayed with EXIF `orientation`."""
    stored_w, stored_h = (height, width) if swaps_sides(orientation) else (width, height)
    meta = ET.Element(_q("x", "xmpmeta"), {_q("x", "xmptk"): "Keepsake"})
    rdf = ET.SubElement(meta, _q("rdf", "RDF"))
    description = ET.SubElement(rdf, _q("rdf", "Description"), {_q("rdf", "about"): ""})
    holder = ET.SubElement(
        description, _q("mwg-rs", "Regions"), {_q("rdf", "parseType"): "Resource"}
    )
    ET.SubElement(
        holder,
        _q("mwg-rs", "AppliedToDimensions"),
        {
            _q("stDim", "w"): str(stored_w),
            _q("stDim", "h"): str(stored_h),
            _q("stDim", "unit"): "pixel",
        },
    )
    bag = ET.SubElement(ET.SubElement(holder, _q("mwg-rs", "RegionList")), _q("rdf", "Bag"))
    for region in regions:
        x1, y1, x2, y2 = display_to_stored(region.box, orientation)
        item = ET.SubElement(bag, _q("rdf", "li"), {_q("rdf", "parseType"): "Resource"})
        if region.name:
            ET.SubElement(item, _q("mwg-rs", "Name")).text = region.name
        ET.SubElement(item, _q("mwg-rs", "Type")).text = "Face"
        ET.SubElement(
            item,
            _q("mwg-rs", "Area"),
            {
                _q("stArea", "x"): _number((x1 + x2) / 2),
                _q("stArea", "y"): _number((y1 + y2) / 2),
                _q("stArea", "w"): _number(x2 - x1),
                _q("stArea", "h"): _number(y2 - y1),
                _q("stArea", "unit"): "normalized",
            },
        )
    names = sorted({r.name for r in regions if r.name})
    if names:
        people = ET.SubElement(
            ET.SubElement(description, _q("Iptc4xmpExt", "PersonInImage")), _q("rdf", "Bag")
        )
        for name in names:
            ET.SubElement(people, _q("rdf", "li")).text = name
    body = ET.tostring(meta, encoding="unicode")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        + body
        + '\n<?xpacket end="w"?>\n'
    )


def parse(data: bytes, width: int, height: int, orientation: int | None) -> list[Region]:
    """The face regions of an XMP sidecar (MWG-RS), as boxes of the photo as displayed.

    Regions of other types (pets, focus areas) and malformed ones are skipped. Raises
    InvalidInput for something that is not XMP, too large, or that declares a DTD (entity
    declarations are how XML bombs and external-entity reads work; XMP never needs one)."""
    if len(data) > MAX_XMP_BYTES:
        raise InvalidInput(f"An XMP sidecar larger than {MAX_XMP_BYTES} bytes is not accepted.")
    if _DTD.search(data):
        raise InvalidInput("XMP with a DOCTYPE or ENTITY declaration is not accepted.")
    try:
        # No DTD is possible past the check above, so no entity can expand or be fetched.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError as error:
        raise InvalidInput(f"The XMP is not well-formed XML: {error}") from None
    regions: list[Region] = []
    for holder in root.iter(_q("mwg-rs", "Regions")):
        dims = _child_or_self(holder, _q("mwg-rs", "AppliedToDimensions"))
        stored_w = _float(_prop(dims, "stDim", "w")) if dims is not None else None
        stored_h = _float(_prop(dims, "stDim", "h")) if dims is not None else None
        for item in _region_items(holder):
            kind = _prop(item, "mwg-rs", "Type")
            if kind is not None and kind.strip().lower() != "face":
                continue
            area = _child_or_self(item, _q("mwg-rs", "Area"))
            if area is None:
                continue
            box = _area_box(area, stored_w, stored_h)
            if box is None:
                continue
            name = (_prop(item, "mwg-rs", "Name") or "").strip()[:200] or None
            regions.append(Region(stored_to_display(box, orientation), name))
            if len(regions) > MAX_REGIONS:
                raise InvalidInput(f"More than {MAX_REGIONS} face regions in one sidecar.")
    return regions


def _region_items(holder: ET.Element) -> list[ET.Element]:
    items = []
    for region_list in holder.iter(_q("mwg-rs", "RegionList")):
        for li in region_list.iter(_q("rdf", "li")):
            # Either the li holds the properties (parseType="Resource") or an rdf:Description.
            inner = li.find(_q("rdf", "Description"))
            items.append(inner if inner is not None else li)
    return items


def _child_or_self(element: ET.Element, tag: str) -> ET.Element | None:
    child = element.find(tag)
    if child is None:
        return None
    inner = child.find(_q("rdf", "Description"))
    return inner if inner is not None else child


def _prop(element: ET.Element | None, prefix: str, name: str) -> str | None:
    """A simple property written either as an attribute or as a child element."""
    if element is None:
        return None
    tag = _q(prefix, name)
    if tag in element.attrib:
        return element.attrib[tag]
    child = element.find(tag)
    return child.text if child is not None and child.text is not None else None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _area_box(area: ET.Element, stored_w: float | None, stored_h: float | None) -> BoxTuple | None:
    x, y = _float(_prop(area, "stArea", "x")), _float(_prop(area, "stArea", "y"))
    w, h = _float(_prop(area, "stArea", "w")), _float(_prop(area, "stArea", "h"))
    if x is None or y is None or w is None or h is None:
        return None
    unit = (_prop(area, "stArea", "unit") or "normalized").strip().lower()
    if unit == "pixel":
        if not stored_w or not stored_h:
            return None
        x, w, y, h = x / stored_w, w / stored_w, y / stored_h, h / stored_h
    elif unit != "normalized":
        return None
    box = (
        max(0.0, x - w / 2),
        max(0.0, y - h / 2),
        min(1.0, x + w / 2),
        min(1.0, y + h / 2),
    )
    if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
        return None
    return box
