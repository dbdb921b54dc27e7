"""API models for face recognition settings, faces, people, suggestions and face search."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from keepsake.media.schemas import AssetOut

Name = Field(None, min_length=1, max_length=200)


class FaceRecognitionIn(BaseModel):
    enabled: bool
    keep_names: bool = Field(
        False,
        description="When turning off: keep the people you named (without their faces), so "
        "turning it on again finds them. Everything else about faces is deleted either way.",
    )


class PersonRef(BaseModel):
    id: str
    name: str | None


class LastMergeOut(BaseModel):
    target: PersonRef = Field(description="the person that stayed, as named now")
    sources: list[PersonRef] = Field(description="the people merged into it, as named then")
    merged_at: datetime | None


class FaceRecognitionOut(BaseModel):
    enabled: bool
    faces: int = Field(description="faces stored for you")
    people: int = Field(description="people, hidden ones included")
    photos_to_index: int = Field(description="photos waiting for the face step")
    templates_deleted: int | None = Field(
        None, description="when turning off: how many face templates were deleted"
    )
    can_undo_merge: bool = Field(
        False, description="`POST /api/people/merge/undo` would undo `last_merge` now"
    )
    last_merge: LastMergeOut | None = Field(None, description="the merge that can be undone")


class Box(BaseModel):
    """Pixels of the photo as displayed (after its EXIF orientation): top-left corner and
    bottom-right edge."""

    x1: float = Field(ge=0)
    y1: float = Field(ge=0)
    x2: float = Field(ge=0)
    y2: float = Field(ge=0)

    @model_validator(mode="after")
    def _positive(self) -> Box:
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise ValueError("x2 must exceed x1 and y2 exceed y1")
        return self


class FaceOut(BaseModel):
    id: str
    asset_id: str
    person_id: str | None
    person_name: str | None
    box: Box
    quality: float = Field(description="0..1, from size, sharpness and detector confidence")
    source: str = Field(description="detected, manual (drawn by you) or xmp (imported)")
    assigned_by: str | None = Field(description="auto, user, or none")
    has_template: bool


class PersonOut(BaseModel):
    id: str
    name: str | None
    is_hidden: bool
    face_count: int
    cover_face_id: str | None
    created_at: datetime
    updated_at: datetime


class PersonDetail(PersonOut):
    photo_count: int
    assets: list[AssetOut] = Field(description="photos of this person, newest first")
    next_cursor: str | None


class PersonPatch(BaseModel):
    name: str | None = Field(
        None, max_length=200, description="a new name; an empty string removes the name"
    )
    is_hidden: bool | None = None
    cover_face_id: str | None = Field(None, description="one of this person's faces")


class MergeIn(BaseModel):
    target_id: str = Field(description="the person that stays")
    source_ids: list[str] = Field(min_length=1, max_length=100)


class SplitIn(BaseModel):
    face_ids: list[str] = Field(min_length=1, max_length=5000)
    target_person_id: str | None = Field(
        None, description="move to this existing person; empty: to a new one"
    )
    name: str | None = Name


class AssignIn(BaseModel):
    person_id: str | None = Field(None, description="an existing person")
    name: str | None = Field(
        None, min_length=1, max_length=200, description="or a name: found, or created"
    )

    @model_validator(mode="after")
    def _one(self) -> AssignIn:
        if (self.person_id is None) == (self.name is None):
            raise ValueError("give either person_id or name")
        return self


class RejectIn(BaseModel):
    person_id: str


class Suggestion(BaseModel):
    person_id: str
    name: str | None
    distance: float = Field(description="average distance to the person's faces")


class UnassignedFace(FaceOut):
    suggestion: Suggestion | None


class SuggestionsPage(BaseModel):
    items: list[UnassignedFace] = Field(description="closest first; each suggests this person")
    next_cursor: str | None = Field(description="pass back as `cursor` for the next page")


class ManualFaceIn(BaseModel):
    box: Box
    person_id: str | None = None
    name: str | None = Name


class PersonMatch(BaseModel):
    person_id: str
    name: str | None
    distance: float


class ExampleFace(BaseModel):
    box: Box = Field(description="in pixels of the uploaded photo, upright, scaled as analysed")
    people: list[PersonMatch]


class PhotoMatch(BaseModel):
    asset: AssetOut
    face_id: str
    distance: float


class ExampleResult(BaseModel):
    width: int = Field(description="of the uploaded photo as analysed")
    height: int
    faces: list[ExampleFace]
    photos: list[PhotoMatch] = Field(description="closest first")


class XmpImported(BaseModel):
    created: int = Field(description="new faces from regions")
    assigned: int = Field(description="faces (new or found) assigned to a named person")
