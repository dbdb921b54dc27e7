"""Routes for face recognition: the switch, people, faces, suggestions, search by person and by
example, face crops, and face regions as XMP and JSON. One-line adapters onto FacesService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from keepsake.api.deps import ContainerDep, CurrentPrincipal
from keepsake.faces.repository import PersonSummary
from keepsake.faces.schemas import (
    AssignIn,
    Box,
    ExampleFace,
    ExampleResult,
    FaceOut,
    FaceRecognitionIn,
    FaceRecognitionOut,
    LastMergeOut,
    ManualFaceIn,
    MergeIn,
    PersonDetail,
    PersonMatch,
    PersonOut,
    PersonPatch,
    PersonRef,
    PhotoMatch,
    RejectIn,
    SplitIn,
    Suggestion,
    SuggestionsPage,
    UnassignedFace,
    XmpImported,
)
from keepsake.faces.service import SUGGESTIONS_MAX, SUGGESTIONS_PAGE, FaceStatus, FaceView
from keepsake.faces.xmp import MAX_XMP_BYTES
from keepsake.media.schemas import AssetOut, TimelinePage

router = APIRouter(prefix="/api", tags=["faces"])
PRIVATE = "private, no-store"
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=500)]
SuggestionsLimit = Annotated[int, Query(ge=1, le=SUGGESTIONS_MAX)]


# --- the switch ----------------------------------------------------------------------------


@router.get("/users/me/face-recognition")
def face_recognition(principal: CurrentPrincipal, c: ContainerDep) -> FaceRecognitionOut:
    return _status(c.faces.status(principal))


@router.put("/users/me/face-recognition")
def set_face_recognition(
    body: FaceRecognitionIn, principal: CurrentPrincipal, c: ContainerDep
) -> FaceRecognitionOut:
    """Turn face recognition on (your library is then indexed in the background) or off
    (every face, face template and face group of yours is deleted at once)."""
    return _status(c.faces.set_enabled(principal, body.enabled, keep_names=body.keep_names))


@router.post("/faces/recluster", status_code=status.HTTP_202_ACCEPTED)
def recluster(principal: CurrentPrincipal, c: ContainerDep) -> None:
    """Regroup all your faces from scratch (in the background); confirmed people stay."""
    c.faces.request_recluster(principal)


# --- people --------------------------------------------------------------------------------


@router.get("/people")
def list_people(
    principal: CurrentPrincipal, c: ContainerDep, include_hidden: bool = False
) -> list[PersonOut]:
    """Your people, named first, each with their face count and cover face."""
    return [_person(p) for p in c.faces.people(principal, include_hidden=include_hidden)]


@router.get("/people/{person_id}")
def get_person(
    person_id: str,
    principal: CurrentPrincipal,
    c: ContainerDep,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> PersonDetail:
    """A person and their photos, newest first; pass `next_cursor` back for more."""
    page = c.faces.person(principal, person_id, cursor=cursor, limit=limit)
    return PersonDetail(
        **_person(page.summary).model_dump(),
        photo_count=page.photo_count,
        assets=[AssetOut.model_validate(a) for a in page.assets],
        next_cursor=page.next_cursor,
    )


@router.get("/people/{person_id}/faces")
def person_faces(person_id: str, principal: CurrentPrincipal, c: ContainerDep) -> list[FaceOut]:
    """Every face of the person, best first (to split some off, or remove one)."""
    return [_face(v) for v in c.faces.person_faces(principal, person_id)]


@router.get("/people/{person_id}/suggestions")
def person_suggestions(
    person_id: str,
    principal: CurrentPrincipal,
    c: ContainerDep,
    cursor: Cursor = None,
    limit: SuggestionsLimit = SUGGESTIONS_PAGE,
) -> SuggestionsPage:
    """ "Is this X?" for one person: faces in no person whose closest person is this one,
    closest first; pass `next_cursor` back for more."""
    page = c.faces.person_suggestions(principal, person_id, cursor=cursor, limit=limit)
    return SuggestionsPage(items=[_unassigned(v) for v in page.faces], next_cursor=page.next_cursor)


@router.patch("/people/{person_id}")
def update_person(
    person_id: str, body: PersonPatch, principal: CurrentPrincipal, c: ContainerDep
) -> PersonOut:
    """Name or rename (an empty name removes it), hide or show, choose the cover face."""
    return _person(
        c.faces.update_person(
            principal,
            person_id,
            name=body.name,
            is_hidden=body.is_hidden,
            cover_face_id=body.cover_face_id,
        )
    )


@router.post("/people/merge")
def merge_people(body: MergeIn, principal: CurrentPrincipal, c: ContainerDep) -> PersonOut:
    """Merge the sources into the target; `POST /api/people/merge/undo` undoes the last one."""
    return _person(c.faces.merge_people(principal, body.target_id, body.source_ids))


@router.post("/people/merge/undo")
def undo_merge(principal: CurrentPrincipal, c: ContainerDep) -> list[PersonOut]:
    return [_person(p) for p in c.faces.undo_merge(principal)]


@router.post("/people/{person_id}/split")
def split_person(
    person_id: str, body: SplitIn, principal: CurrentPrincipal, c: ContainerDep
) -> PersonOut:
    """Move some of the person's faces to another person, or to a new one (named `name`)."""
    return _person(
        c.faces.split_person(
            principal,
            person_id,
            body.face_ids,
            target_person_id=body.target_person_id,
            name=body.name,
        )
    )


@router.delete("/people/{person_id}/faces/{face_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_face(person_id: str, face_id: str, principal: CurrentPrincipal, c: ContainerDep) -> None:
    """This face is not this person: it leaves them and is never put back automatically."""
    c.faces.remove_face(principal, person_id, face_id)


# --- faces ---------------------------------------------------------------------------------


@router.get("/faces/unassigned")
def unassigned_faces(
    principal: CurrentPrincipal, c: ContainerDep, limit: Limit = 100
) -> list[UnassignedFace]:
    """Faces in no person, best first, with a suggestion ("is this Anna?") where one fits."""
    return [_unassigned(v) for v in c.faces.unassigned(principal, limit=limit)]


@router.put("/faces/{face_id}/person")
def assign_face(
    face_id: str, body: AssignIn, principal: CurrentPrincipal, c: ContainerDep
) -> FaceOut:
    """Confirm a suggestion or put the face in a person (by id, or by name)."""
    return _face(c.faces.assign_face(principal, face_id, person_id=body.person_id, name=body.name))


@router.post("/faces/{face_id}/reject", status_code=status.HTTP_204_NO_CONTENT)
def reject_suggestion(
    face_id: str, body: RejectIn, principal: CurrentPrincipal, c: ContainerDep
) -> None:
    """This face is not that person: never suggest it again."""
    c.faces.reject_suggestion(principal, face_id, body.person_id)


@router.get("/faces/{face_id}/crop")
def face_crop(face_id: str, principal: CurrentPrincipal, c: ContainerDep) -> Response:
    """The face cut from the photo's preview, as JPEG."""
    return Response(
        c.faces.face_crop(principal, face_id),
        media_type="image/jpeg",
        headers={"Cache-Control": PRIVATE},
    )


@router.get("/assets/{asset_id}/faces")
def asset_faces(asset_id: str, principal: CurrentPrincipal, c: ContainerDep) -> list[FaceOut]:
    """The photo's faces (regions as JSON), with their people."""
    return [_face(v) for v in c.faces.asset_faces(principal, asset_id)]


@router.post("/assets/{asset_id}/faces", status_code=status.HTTP_201_CREATED)
def add_face(
    asset_id: str, body: ManualFaceIn, principal: CurrentPrincipal, c: ContainerDep
) -> FaceOut:
    """A face detection missed: the box you drew, optionally with its person."""
    box = (body.box.x1, body.box.y1, body.box.x2, body.box.y2)
    return _face(
        c.faces.add_manual_face(principal, asset_id, box, person_id=body.person_id, name=body.name)
    )


@router.get("/assets/{asset_id}/faces.xmp")
def asset_xmp(asset_id: str, principal: CurrentPrincipal, c: ContainerDep) -> Response:
    """An XMP sidecar with the photo's face regions (MWG), as digiKam and Lightroom read."""
    return Response(
        c.faces.asset_xmp(principal, asset_id),
        media_type="application/rdf+xml",
        headers={
            "Cache-Control": PRIVATE,
            "Content-Disposition": f'attachment; filename="{asset_id}.xmp"',
        },
    )


@router.post("/assets/{asset_id}/faces.xmp")
def import_xmp(
    asset_id: str,
    principal: CurrentPrincipal,
    c: ContainerDep,
    file: Annotated[UploadFile, File(description="An XMP sidecar with MWG face regions")],
) -> XmpImported:
    """Import face regions (and the names on them) from an XMP sidecar of this photo."""
    created, assigned = c.faces.import_xmp(principal, asset_id, file.file.read(MAX_XMP_BYTES + 1))
    return XmpImported(created=created, assigned=assigned)


# --- search --------------------------------------------------------------------------------


@router.get("/search/people")
def search_people(
    principal: CurrentPrincipal,
    c: ContainerDep,
    person_id: Annotated[list[str], Query(min_length=1, max_length=20)],
    cursor: Cursor = None,
    limit: Limit = 100,
) -> TimelinePage:
    """Photos with every one of the given people, newest first (repeat `person_id`)."""
    items, next_cursor = c.faces.photos_with(principal, person_id, cursor=cursor, limit=limit)
    return TimelinePage(items=[AssetOut.model_validate(a) for a in items], next_cursor=next_cursor)


@router.post("/search/faces")
def search_by_example(
    principal: CurrentPrincipal,
    c: ContainerDep,
    file: Annotated[UploadFile, File(description="A photo with the face(s) to look for")],
) -> ExampleResult:
    """The people and photos of your library closest to the faces in a photo, with distances.
    The photo is analysed in memory and not stored."""
    found = c.faces.search_by_example(principal, file.file)
    return ExampleResult(
        width=found.width,
        height=found.height,
        faces=[
            ExampleFace(
                box=Box(x1=f.box[0], y1=f.box[1], x2=f.box[2], y2=f.box[3]),
                people=[PersonMatch(person_id=p, name=n, distance=d) for p, n, d in f.people],
            )
            for f in found.faces
        ],
        photos=[
            PhotoMatch(asset=AssetOut.model_validate(a), face_id=face_id, distance=d)
            for a, face_id, d in found.photos
        ],
    )


def _status(state: FaceStatus) -> FaceRecognitionOut:
    return FaceRecognitionOut(
        enabled=state.enabled,
        faces=state.faces,
        people=state.people,
        photos_to_index=state.photos_to_index,
        templates_deleted=state.templates_deleted,
        can_undo_merge=state.last_merge is not None,
        last_merge=LastMergeOut(
            target=PersonRef(id=merge.target_id, name=merge.target_name),
            sources=[PersonRef(id=i, name=n) for i, n in merge.sources],
            merged_at=merge.merged_at,
        )
        if (merge := state.last_merge)
        else None,
    )


def _person(summary: PersonSummary) -> PersonOut:
    person = summary.person
    return PersonOut(
        id=person.id,
        name=person.name,
        is_hidden=person.is_hidden,
        face_count=summary.face_count,
        cover_face_id=summary.cover_face_id,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


def _face(view: FaceView) -> FaceOut:
    face = view.face
    return FaceOut(
        id=face.id,
        asset_id=face.asset_id,
        person_id=face.person_id,
        person_name=view.person_name,
        box=Box(x1=face.x1, y1=face.y1, x2=face.x2, y2=face.y2),
        quality=face.quality,
        source=face.source,
        assigned_by=face.assigned_by,
        has_template=face.embedding is not None,
    )


def _unassigned(view: FaceView) -> UnassignedFace:
    suggestion = view.suggestion
    return UnassignedFace(
        **_face(view).model_dump(),
        suggestion=Suggestion(person_id=suggestion[0], name=suggestion[1], distance=suggestion[2])
        if suggestion
        else None,
    )
