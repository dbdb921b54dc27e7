"""XMP face regions (MWG) and box geometry, without a server: the format other photo tools
read, EXIF orientation both ways, and hostile input."""

from __future__ import annotations

import itertools

import pytest

from keepsake.errors import InvalidInput
from keepsake.faces import xmp
from keepsake.faces.geometry import display_to_stored, iou, match_boxes, stored_to_display

# A sidecar as digiKam writes it: properties as attributes on rdf:Description items.
DIGIKAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#">
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="4000" stDim:h="3000" stDim:unit="pixel"/>
    <mwg-rs:RegionList>
     <rdf:Bag>
      <rdf:li>
       <rdf:Description mwg-rs:Name="Anna" mwg-rs:Type="Face">
        <mwg-rs:Area stArea:x="0.25" stArea:y="0.5" stArea:w="0.1" stArea:h="0.2"
          stArea:unit="normalized"/>
       </rdf:Description>
      </rdf:li>
      <rdf:li>
       <rdf:Description mwg-rs:Name="Rex" mwg-rs:Type="Pet">
        <mwg-rs:Area stArea:x="0.7" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1"
          stArea:unit="normalized"/>
       </rdf:Description>
      </rdf:li>
      <rdf:li>
       <rdf:Description mwg-rs:Type="Face">
        <mwg-rs:Area stArea:x="2000" stArea:y="300" stArea:w="400" stArea:h="600"
          stArea:unit="pixel"/>
       </rdf:Description>
      </rdf:li>
     </rdf:Bag>
    </mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"""


def test_regions_written_by_digikam_are_read_faces_only() -> None:
    regions = xmp.parse(DIGIKAM, 4000, 3000, orientation=1)
    assert [r.name for r in regions] == ["Anna", None], "the pet region is not a face"
    assert regions[0].box == pytest.approx((0.2, 0.4, 0.3, 0.6))
    assert regions[1].box == pytest.approx((0.45, 0.0, 0.55, 0.2))


def test_written_regions_are_mwg_with_centre_size_and_names() -> None:
    text = xmp.render([xmp.Region((0.2, 0.4, 0.3, 0.6), "Anna")], 4000, 3000, 1)
    assert 'stArea:x="0.25"' in text and 'stArea:w="0.1"' in text
    assert 'stArea:unit="normalized"' in text and 'stDim:w="4000"' in text
    assert "<mwg-rs:Name>Anna</mwg-rs:Name>" in text and "<mwg-rs:Type>Face</mwg-rs:Type>" in text
    assert "Iptc4xmpExt:PersonInImage" in text
    back = xmp.parse(text.encode(), 4000, 3000, 1)
    assert back == [xmp.Region(pytest.approx((0.2, 0.4, 0.3, 0.6)), "Anna")]


def test_regions_refer_to_the_stored_image_before_its_exif_orientation() -> None:
    # Orientation 6: the stored 4000 x 3000 image is shown turned a quarter clockwise. A face
    # at the stored image's top left is at the top right of what the user sees.
    stored_top_left = (0.0, 0.0, 0.1, 0.2)
    shown = stored_to_display(stored_top_left, 6)
    assert shown == pytest.approx((0.8, 0.0, 1.0, 0.1))
    text = xmp.render([xmp.Region(shown, None)], 3000, 4000, 6)
    assert 'stDim:w="4000"' in text and 'stDim:h="3000"' in text
    assert 'stArea:x="0.05"' in text and 'stArea:y="0.1"' in text


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_round_trips(orientation: int) -> None:
    box = (0.1, 0.2, 0.35, 0.6)
    assert display_to_stored(stored_to_display(box, orientation), orientation) == pytest.approx(box)
    text = xmp.render([xmp.Region(box, "x")], 300, 200, orientation)
    assert xmp.parse(text.encode(), 300, 200, orientation)[0].box == pytest.approx(box)


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b'<!doctype x SYSTEM "file:///etc/passwd"><x/>',
        b"<x:xmpmeta",
        b"not xml at all",
        b"<x>" + b"a" * (xmp.MAX_XMP_BYTES + 1) + b"</x>",
    ],
)
def test_hostile_or_broken_xmp_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        xmp.parse(data, 100, 100, 1)


def test_regions_with_broken_areas_are_skipped() -> None:
    broken = DIGIKAM.replace(b'stArea:x="0.25"', b'stArea:x="nan"').replace(
        b'stArea:unit="pixel"', b'stArea:unit="inch"'
    )
    assert xmp.parse(broken, 4000, 3000, 1) == []


def test_boxes_are_matched_by_overlap_best_first() -> None:
    stored = [(0.0, 0.0, 10.0, 10.0), (20.0, 0.0, 30.0, 10.0)]
    found = [(21.0, 1.0, 31.0, 11.0), (50.0, 50.0, 60.0, 60.0), (1.0, 0.0, 11.0, 10.0)]
    assert sorted(match_boxes(stored, found)) == [(0, 2), (1, 0)]
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    for a, b in itertools.combinations(stored + found, 2):
        assert iou(a, b) == pytest.approx(iou(b, a))
