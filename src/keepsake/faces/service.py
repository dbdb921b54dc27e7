"""Use cases of faces and people: the consent switch, the face job, clustering into people,
naming, merging and correcting them, face search, and face regions in and out (XMP, JSON).

Every method that touches face data starts with the access check (the caller's own data only,
so another user's face or person is a 404), then the consent check (the consent service's one
policy check, `allows(owner, "face_recognition")`: consent to the current text of the
purpose), then the work. Jobs check consent first and return SKIPPED, with a ledger entry,
without it. Writes to one owner's faces run one at a time under the lock of
their `face_indexes` row, which also versions the in-memory templates (faces.templates).
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, BinaryIO, Literal, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from keepsake.auth.access import Principal, Scope, require_access
from keepsake.clock import Clock
from keepsake.config import Settings
from keepsake.consent.purposes import purpose_named
from keepsake.crypto.keys import Purpose
from keepsake.errors import InvalidInput, NotFound, PayloadTooLarge
from keepsake.faces import clustering, images, xmp
from keepsake.faces.clustering import ClusterParams, FaceSet, KnownFaces, NewFaces
from keepsake.faces.engine import AnalyzerProvider
from keepsake.faces.errors import FaceRecognitionOff, NothingToUndo
from keepsake.faces.geometry import BoxTuple, match_boxes
from keepsake.faces.jobs import INDEX_ASSET_JOB, INDEX_LIBRARY_JOB, RECLUSTER_JOB
from keepsake.faces.repository import FaceRepository, PersonSummary
from keepsake.faces.templates import TemplateCache, TemplateChange, Templates
from keepsake.ids import new_id
from keepsake.jobs.queue import JobQueue, JobResult
from keepsake.media.cursor import decode_cursor, encode_cursor
from keepsake.media.service import PREVIEWS, STEP_FACES, STEP_PREVIEW, MediaService
from keepsake.ml import DetectedFace, is_good_seed
from keepsake.storage.blobs import BlobStore, blob_key, owner_of
from keepsake.storage.db import Database
from keepsake.storage.models import Asset, Face, FaceIndex, Person

log = logging.getLogger("keepsake.faces")

SEARCH_MAX_PAGE = 500
UNASSIGNED_MAX = 500
SUGGESTIONS_PAGE = 24
SUGGESTIONS_MAX = 100
"""Faces of one person's "is this X?" queue per page (default and most): a few screens of
96 px crops; the queue shrinks as the user answers, so a client asks for the first page again."""
EXAMPLE_MAX_BYTES = 50 * 1024 * 1024
"""Largest photo accepted for search by example (it is held in memory only, never stored)."""
EXAMPLE_MAX_PHOTOS = 100
"""Photos returned by a search by example, closest first: one page, as the timeline's."""
EXAMPLE_PERSON_NEIGHBOURS = 5
"""A person matches a searched face by the mean distance to their 5 closest faces: robust to
one odd face in the person, and fair to people with thousands of faces (an average over all
of them would drift with age and light)."""
CROP_SIZE = 256
"""Long side of a face crop (px): sharp at the 128 px avatars of the people page on 2x screens."""
LIBRARY_BATCH = 500
TEMPLATE_EXPORT_PAGE = 500
"""Templates read (and decrypted) at a time while a takeout streams them."""
SAVED_TEMPLATES = "face-templates"
"""Blob kind of the sealed copy of an owner's template matrix (a cache, rebuilt when stale)."""
SAVED_TEMPLATES_SLACK = 0.05
"""Rewrite the saved matrix when more than this share of the templates had to be decrypted
one by one (they were added since it was saved)."""
_SAVED_AD = b"keepsake/face-template-matrix"

SOURCE_DETECTED, SOURCE_MANUAL, SOURCE_XMP = "detected", "manual", "xmp"
BY_AUTO, BY_USER = "auto", "user"
JOB_ACTOR = "system:faces"
PURPOSE = "face_recognition"
# Ledger actions, as keepsake.consent.ledger.Action names them.
ACTION_INDEXED = "faces.indexed"
ACTION_SEARCH = "faces.searched"
ACTION_SKIPPED = "faces.skipped_without_consent"
ACTION_DELETED = "face_templates.deleted"

DetailValue = str | int | bool | None


class FaceLedger(Protocol):
    """Where processing of face data is recorded (the consent capability's data-use ledger)."""

    def append(
        self,
        s: Session,
        owner_id: str,
        actor: str,
        action: str,
        purpose: str | None = None,
        object_ids: Sequence[str] = (),
        detail: Mapping[str, DetailValue] | None = None,
    ) -> object: ...


class TemplateSealer(Protocol):
    """Seals face templates with their owner's key (the container's KeyService)."""

    def seal(
        self, owner_id: str, data: bytes, associated: bytes, purpose: Purpose = ...
    ) -> bytes: ...

    def unseal(
        self, owner_id: str, sealed: bytes, associated: bytes, purpose: Purpose = ...
    ) -> bytes: ...


class _Withdrawn(Protocol):
    @property
    def templates_deleted(self) -> int | None: ...


class FaceConsent(Protocol):
    """The consent capability (keepsake.consent.service.ConsentService): the one policy
    check, and turning face recognition on or off through the faces API records (or ends)
    consent to the purpose, as its own API does."""

    def allows(self, owner_id: str, purpose: str) -> bool: ...

    def owners_allowing(self, purpose: str) -> list[str]: ...

    def grant(
        self,
        principal: Principal,
        purpose: str,
        version: int,
        via: Literal["api"],
        *,
        actor: str = "",
    ) -> object: ...

    def withdraw(
        self,
        principal: Principal,
        purpose: str,
        via: Literal["api"],
        *,
        keep_names: bool = False,
        actor: str = "",
    ) -> _Withdrawn: ...


@dataclass(frozen=True)
class LastMerge:
    """The merge `undo_merge` would undo: the person that stayed (as named now) and the people
    merged into them (as named then)."""

    target_id: str
    target_name: str | None
    sources: list[tuple[str, str | None]]
    merged_at: datetime | None


@dataclass(frozen=True)
class FaceStatus:
    enabled: bool
    faces: int
    people: int
    photos_to_index: int
    templates_deleted: int | None = None
    last_merge: LastMerge | None = None


@dataclass(frozen=True)
class SuggestionPage:
    faces: list[FaceView]
    next_cursor: str | None


@dataclass(frozen=True)
class FaceView:
    face: Face
    person_name: str | None
    suggestion: tuple[str, str | None, float] | None = None


@dataclass(frozen=True)
class PersonPage:
    summary: PersonSummary
    photo_count: int
    assets: list[Asset]
    next_cursor: str | None


@dataclass(frozen=True)
class ExampleMatch:
    box: BoxTuple
    people: list[tuple[str, str | None, float]]


@dataclass(frozen=True)
class ExampleSearch:
    width: int
    height: int
    faces: list[ExampleMatch]
    photos: list[tuple[Asset, str, float]]


@dataclass
class _Tx:
    s: Session
    index: FaceIndex
    change: TemplateChange
    after_commit: list[tuple[str, str]]


class FacesService:
    def __init__(
        self,
        db: Database,
        repo: FaceRepository,
        media: MediaService,
        blobs: BlobStore,
        jobs: JobQueue,
        keys: TemplateSealer,
        settings: Settings,
        clock: Clock,
        analyzers: AnalyzerProvider,
        *,
        ledger: FaceLedger,
        consent: FaceConsent,
        cache: TemplateCache | None = None,
    ) -> None:
        self.db = db
        self.repo = repo
        self.media = media
        self.blobs = blobs
        self.jobs = jobs
        self.keys = keys
        self.settings = settings
        self.clock = clock
        self.analyzers = analyzers
        self.cache = cache or TemplateCache()
        self.ledger = ledger
        self.consent = consent
        self.params = ClusterParams(
            distance=settings.face_cluster_distance, min_faces=settings.face_min_person_faces
        )

    # --- the switch ------------------------------------------------------------------------

    def status(self, principal: Principal) -> FaceStatus:
        owner_id = require_access(principal, Scope.READ)
        enabled = self._allowed(owner_id)
        with self.db.read() as s:
            return FaceStatus(
                enabled=enabled,
                faces=self.repo.face_count(s, owner_id),
                people=self.repo.people_count(s, owner_id),
                photos_to_index=self.repo.count_to_index(s, owner_id, STEP_FACES, STEP_PREVIEW)
                if enabled
                else 0,
                last_merge=self._last_merge(s, owner_id) if enabled else None,
            )

    def _last_merge(self, s: Session, owner_id: str) -> LastMerge | None:
        """The merge that can be undone now: the last one, while its person still exists
        (`undo_merge` refuses otherwise)."""
        index = self.repo.index_of(s, owner_id)
        merge = index.last_merge if index is not None else None
        if not merge:
            return None
        target = self.repo.person_of(s, owner_id, merge["target"]["id"])
        if target is None:
            return None
        at = merge.get("at")
        return LastMerge(
            target.id,
            target.name,
            [(source["id"], source["name"]) for source in merge["sources"]],
            datetime.fromisoformat(at) if at else None,
        )

    def set_enabled(
        self, principal: Principal, enabled: bool, *, keep_names: bool = False
    ) -> FaceStatus:
        """Turn face recognition on (the whole library is then indexed in the background) or
        off (every face, template and face group of the user is deleted in this call; named
        people survive without faces only with `keep_names`)."""
        require_access(principal, Scope.FULL)
        deleted = None
        # Consent records the grant (with the purpose's current text) and calls back
        # `start_indexing`, or ends it and calls back `withdraw_hook`.
        if enabled:
            version = purpose_named(PURPOSE).version
            self.consent.grant(principal, PURPOSE, version, "api")
        else:
            withdrawal = self.consent.withdraw(principal, PURPOSE, "api", keep_names=keep_names)
            deleted = withdrawal.templates_deleted or 0
        return FaceStatus(**{**self.status(principal).__dict__, "templates_deleted": deleted})

    def owners_with_face_data(self) -> set[str]:
        """Who holds faces, face groups or a saved template matrix: for the consent reconcile
        job, which deletes them for owners who no longer consent."""
        with self.db.read() as s:
            owners = self.repo.owners_with_face_data(s)
        return owners | {owner_of(key) for key in self.blobs.keys(SAVED_TEMPLATES + "/")}

    def start_indexing(self, owner_id: str) -> None:
        """Index the owner's whole library in the background (also the consent grant hook)."""
        self.jobs.enqueue(INDEX_LIBRARY_JOB, owner_id)

    def withdraw_hook(self, owner_id: str, keep_names: bool) -> int:
        """The consent withdrawal hook: consent records the deletion in the ledger itself."""
        return self.forget_face_data(owner_id, keep_names, actor=None)

    def forget_face_data(
        self, owner_id: str, keep_names: bool = False, *, actor: str | None = JOB_ACTOR
    ) -> int:
        """Delete, in one transaction, all the owner's faces, templates, rejections and people
        (named ones kept, empty, with `keep_names`), then the saved template matrix. Returns
        how many templates were deleted. Consent has ended before this runs (it is the
        withdrawal hook), so nothing is made again: every writer checks consent under the
        same lock."""
        now = self.clock.now()
        with self.db.write() as s:
            index = self.repo.lock_index(s, owner_id, now)
            deleted = self.repo.delete_face_data(s, owner_id, keep_names=keep_names)
            self.repo.clear_face_steps(s, owner_id, STEP_FACES)
            # Bumped, never reset: a process holding templates of an older version must see
            # them as stale, whatever happens to the counter afterwards.
            index.version += 1
            index.model_id = None
            index.last_merge = None
            index.updated_at = now
            if actor is not None:
                self._record(s, owner_id, actor, ACTION_DELETED, (), {"count": deleted})
        self.cache.drop(owner_id)
        self.forget_files(owner_id)
        return deleted

    # --- jobs ------------------------------------------------------------------------------

    def index_asset(self, asset_id: str) -> JobResult:
        """The face job of one photo: detect on the preview, store faces with their sealed
        templates (boxes mapped to the original), place them into people. Safe to re-run:
        new boxes are matched to stored faces by overlap, so nothing is stored twice."""
        with self.db.read() as s:
            asset = self.repo.asset_by_id(s, asset_id)
            if asset is None or asset.trashed_at is not None:
                return JobResult.SKIPPED
            owner_id = asset.owner_id
            has_preview = self.repo.is_done(s, asset_id, STEP_PREVIEW)
            done = self.repo.is_done(s, asset_id, STEP_FACES)
            index = self.repo.index_of(s, owner_id)
            indexed_model = index.model_id if index else None
        if not self._allowed(owner_id):
            self._record_skip(owner_id, asset_id)
            return JobResult.SKIPPED
        if not has_preview:
            return JobResult.SKIPPED  # the preview's job enqueues this one when it is made
        analyzer = self.analyzers.get()
        model_id = analyzer.model_id
        if done and indexed_model == model_id:
            return JobResult.SKIPPED
        preview = images.decode_preview(
            b"".join(self.blobs.read(blob_key(PREVIEWS, owner_id, asset_id)))
        )
        found = analyzer.analyze(preview)
        height, width = preview.shape[:2]
        original_w, original_h = asset.width or width, asset.height or height
        scale = max(width, height) / max(original_w, original_h)
        with self.db.read() as s:
            # Load (or refresh) the owner's templates before taking the owner's write lock:
            # a cold load decrypts every template and must not hold up other writers.
            if index is not None and index.model_id == model_id:
                self._templates(s, owner_id, index)
        detections = []
        for face in found:
            # A face cut by the photo's edge can have a box reaching past it: keep the part
            # inside, so regions stay valid fractions of the photo (XMP, crops).
            mapped = face.to_original(scale)
            box = mapped.box.clipped(original_w, original_h)
            if box.width >= 1 and box.height >= 1:
                detections.append((replace(mapped, box=box), is_good_seed(face)))
        try:
            with self._changing(owner_id) as tx:
                if self.repo.asset_of(tx.s, owner_id, asset_id) is None:
                    return JobResult.SKIPPED
                self._store_detections(tx, asset, detections, model_id)
                self.repo.mark_faces_done(tx.s, asset_id, STEP_FACES, self.clock.now())
                self._record(
                    tx.s, owner_id, JOB_ACTOR, ACTION_INDEXED, [asset_id], {"faces": len(found)}
                )
        except FaceRecognitionOff:
            self._record_skip(owner_id, asset_id)
            return JobResult.SKIPPED
        return JobResult.SUCCESS

    def index_library(self, owner_id: str) -> JobResult:
        """Enqueue the face job of every photo of the owner that lacks it."""
        after = ""
        while True:
            if not self._allowed(owner_id):
                self._record_skip(owner_id, None)
                return JobResult.SKIPPED
            with self.db.read() as s:
                batch = self.repo.assets_to_index(
                    s, owner_id, STEP_FACES, STEP_PREVIEW, LIBRARY_BATCH, after=after
                )
            for asset_id in batch:
                self.jobs.enqueue(INDEX_ASSET_JOB, asset_id)
            if len(batch) < LIBRARY_BATCH:
                return JobResult.SUCCESS
            after = batch[-1]

    def preview_made(self, owner_id: str, asset_id: str) -> None:
        """Called by the media service when a photo's preview exists: the face job follows,
        for owners who turned face recognition on (others get no face job at all)."""
        if self._allowed(owner_id):
            self.jobs.enqueue(INDEX_ASSET_JOB, asset_id)

    def reconcile(self) -> JobResult:
        """For every owner with face recognition on: move the library to a new face model
        when the engine changed, and enqueue the face job of every photo that lacks it."""
        owners = self.consent.owners_allowing(PURPOSE)
        with self.db.read() as s:
            indexed = {o: (i.model_id if (i := self.repo.index_of(s, o)) else None) for o in owners}
        if not owners:
            return JobResult.SUCCESS
        model_id = self.analyzers.model_id
        for owner_id in owners:
            if indexed[owner_id] not in (None, model_id):
                self.reindex(owner_id)
            self.jobs.enqueue(INDEX_LIBRARY_JOB, owner_id)
        return JobResult.SUCCESS

    def reindex(self, owner_id: str) -> JobResult:
        """Move the owner's library to the current face model: templates of the old model are
        never compared with the new one's; each photo's faces are re-embedded by its face job
        (people and the user's decisions are kept: faces are matched by overlap)."""
        try:
            with self._changing(owner_id) as tx:
                self._switch_model(tx, self.analyzers.model_id)
        except FaceRecognitionOff:
            self._record_skip(owner_id, None)
            return JobResult.SKIPPED
        self.jobs.enqueue(INDEX_LIBRARY_JOB, owner_id)
        return JobResult.SUCCESS

    def recluster(self, owner_id: str) -> JobResult:
        """The full re-cluster of one owner's faces (confirmed people keep their faces).

        Computed outside the lock, written under it if nothing changed in between; retried
        otherwise, so a busy library is never blocked for the duration of a clustering."""
        for _ in range(3):
            if not self._allowed(owner_id):
                self._record_skip(owner_id, None)
                return JobResult.SKIPPED
            with self.db.read() as s:
                index = self.repo.index_of(s, owner_id)
                if index is None:
                    return JobResult.SUCCESS
                templates = self._templates(s, owner_id, index)
                people = {p.id: p for p in self.repo.all_people(s, owner_id)}
                rejections = self.repo.rejections_of(s, owner_id)
            desired, created = self._full_labels(templates, people, rejections)
            try:
                with self._changing(owner_id) as tx:
                    if tx.index.version != templates.version:
                        continue
                    self._apply_labels(tx, owner_id, templates, desired, created)
                return JobResult.SUCCESS
            except FaceRecognitionOff:
                self._record_skip(owner_id, None)
                return JobResult.SKIPPED
        self.jobs.enqueue(RECLUSTER_JOB, owner_id)
        return JobResult.SKIPPED

    def request_recluster(self, principal: Principal) -> None:
        owner_id = require_access(principal, Scope.FULL)
        self._require_on(owner_id)
        self.jobs.enqueue(RECLUSTER_JOB, owner_id)

    # --- people ----------------------------------------------------------------------------

    def people(self, principal: Principal, *, include_hidden: bool = False) -> list[PersonSummary]:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            self._check_on(s, owner_id)
            return self.repo.summaries(s, owner_id, include_hidden=include_hidden)

    def person(
        self,
        principal: Principal,
        person_id: str,
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> PersonPage:
        """A person with the photos they are in, newest first (one page)."""
        owner_id = require_access(principal, Scope.READ)
        self._check_limit(limit)
        with self.db.read() as s:
            self._check_on(s, owner_id)
            found = self.repo.summaries(s, owner_id, include_hidden=True, person_ids=[person_id])
            if not found:
                raise NotFound("No such person.")
            count = self.repo.person_photo_count(s, owner_id, person_id)
            assets, next_cursor = self._photos_with(s, owner_id, [person_id], cursor, limit)
        return PersonPage(found[0], count, assets, next_cursor)

    def person_faces(self, principal: Principal, person_id: str) -> list[FaceView]:
        """Every face of a person (to pick the ones to split off or remove), best first."""
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            self._check_on(s, owner_id)
            person = self._person(s, owner_id, person_id)
            faces = self.repo.faces_of_person(s, owner_id, person_id)
        faces.sort(key=lambda f: (-f.quality, f.id))
        return [FaceView(f, person.name) for f in faces]

    def photos_with(
        self,
        principal: Principal,
        person_ids: Sequence[str],
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[Asset], str | None]:
        """Photos showing every one of these people, newest first, paginated like the
        timeline."""
        owner_id = require_access(principal, Scope.READ)
        self._check_limit(limit)
        wanted = list(dict.fromkeys(person_ids))
        if not wanted:
            raise InvalidInput("Name at least one person.")
        with self.db.read() as s:
            self._check_on(s, owner_id)
            if len(self.repo.people_of(s, owner_id, wanted)) != len(wanted):
                raise NotFound("No such person.")
            page = self._photos_with(s, owner_id, wanted, cursor, limit)
        if cursor is None:
            self._record_now(owner_id, f"user:{owner_id}", ACTION_SEARCH, wanted, {"by": "person"})
        return page

    def update_person(
        self,
        principal: Principal,
        person_id: str,
        *,
        name: str | None = None,
        is_hidden: bool | None = None,
        cover_face_id: str | None = None,
    ) -> PersonSummary:
        """Name (an empty name removes it), hide or show, or choose the cover face."""
        owner_id = require_access(principal, Scope.FULL)
        with self._changing(owner_id) as tx:
            person = self._person(tx.s, owner_id, person_id)
            if name is not None:
                person.name = name.strip() or None
            if is_hidden is not None:
                person.is_hidden = is_hidden
            if cover_face_id is not None:
                face = self.repo.face_of(tx.s, owner_id, cover_face_id)
                if face is None or face.person_id != person_id:
                    raise InvalidInput("The cover must be one of this person's faces.")
                person.cover_face_id = cover_face_id
            self._confirm(person)
            tx.change.touch()
        return self._summary(owner_id, person_id)

    def merge_people(
        self, principal: Principal, target_id: str, source_ids: Sequence[str]
    ) -> PersonSummary:
        """Move every face of the sources into the target and delete the sources; the last
        merge can be undone. A face the user ruled out of a source stays out of the target."""
        owner_id = require_access(principal, Scope.FULL)
        sources = [p for p in dict.fromkeys(source_ids) if p != target_id]
        if not sources:
            raise InvalidInput("Name at least one other person to merge.")
        with self._changing(owner_id) as tx:
            target = self._person(tx.s, owner_id, target_id)
            people = self.repo.people_of(tx.s, owner_id, sources)
            if len(people) != len(sources):
                raise NotFound("No such person.")
            before = _person_state(target)
            snapshots = []
            for person in people:
                state = _person_state(person)
                state["face_ids"] = [
                    f.id for f in self.repo.faces_of_person(tx.s, owner_id, person.id)
                ]
                state["rejected"] = [
                    f for f, _ in self.repo.rejections_of_people(tx.s, [person.id])
                ]
                snapshots.append(state)
            carried = [
                (face_id, target_id) for face_id, _ in self.repo.rejections_of_people(tx.s, sources)
            ]
            existing = {f for f, _ in self.repo.rejections_of_people(tx.s, [target_id])}
            carried = [(f, t) for f, t in dict.fromkeys(carried) if f not in existing]
            self.repo.add_rejections(tx.s, carried, self.clock.now())
            moved = self.repo.move_person_faces(tx.s, owner_id, sources, target_id)
            tx.change.move(moved, target_id)
            if target.name is None:
                target.name = next((p.name for p in people if p.name), None)
            self.repo.delete_people(tx.s, owner_id, sources)
            self._confirm(target)
            tx.index.last_merge = {
                "target": before,
                "sources": snapshots,
                "carried_rejections": [f for f, _ in carried],
                "at": self.clock.now().isoformat(),
            }
        return self._summary(owner_id, target_id)

    def undo_merge(self, principal: Principal) -> list[PersonSummary]:
        """Undo the last merge: the merged people come back with the faces that are still in
        the person they were merged into."""
        owner_id = require_access(principal, Scope.FULL)
        with self._changing(owner_id) as tx:
            merge = tx.index.last_merge
            if not merge:
                raise NothingToUndo("There is no merge to undo.")
            state = merge["target"]
            target = self.repo.person_of(tx.s, owner_id, state["id"])
            if target is None:
                raise NothingToUndo("The merged person no longer exists.")
            _restore_state(target, state, self.clock.now())
            self.repo.delete_rejections(
                tx.s, [(f, target.id) for f in merge.get("carried_rejections", [])]
            )
            restored = [target.id]
            for source in merge["sources"]:
                person = Person(id=source["id"], owner_id=owner_id, created_at=self.clock.now())
                _restore_state(person, source, self.clock.now())
                self.repo.add_person(tx.s, person)
                back = [
                    f.id
                    for f in self.repo.faces_of(tx.s, owner_id, source["face_ids"])
                    if f.person_id == target.id
                ]
                self.repo.reassign(tx.s, owner_id, back, person.id, BY_USER)
                tx.change.move(back, person.id)
                present = {f.id for f in self.repo.faces_of(tx.s, owner_id, source["rejected"])}
                self.repo.add_rejections(
                    tx.s,
                    [(f, person.id) for f in source["rejected"] if f in present],
                    self.clock.now(),
                )
                restored.append(person.id)
            tx.index.last_merge = None
        with self.db.read() as s:
            return self.repo.summaries(s, owner_id, include_hidden=True, person_ids=restored)

    def split_person(
        self,
        principal: Principal,
        person_id: str,
        face_ids: Sequence[str],
        *,
        target_person_id: str | None = None,
        name: str | None = None,
    ) -> PersonSummary:
        """Move some of a person's faces to another person, or to a new one. The faces never
        go back to the first person by themselves."""
        owner_id = require_access(principal, Scope.FULL)
        wanted = list(dict.fromkeys(face_ids))
        with self._changing(owner_id) as tx:
            person = self._person(tx.s, owner_id, person_id)
            faces = self.repo.faces_of(tx.s, owner_id, wanted)
            if len(faces) != len(wanted):
                raise NotFound("No such face.")
            if any(f.person_id != person_id for f in faces):
                raise InvalidInput("Every face to split off must belong to the person.")
            if target_person_id is not None:
                if target_person_id == person_id:
                    raise InvalidInput("Split to another person.")
                target = self._person(tx.s, owner_id, target_person_id)
            else:
                target = self._new_person(tx.s, owner_id, name, confirmed=True)
            self.repo.reassign(tx.s, owner_id, wanted, target.id, BY_USER)
            self.repo.add_rejections(tx.s, [(f, person_id) for f in wanted], self.clock.now())
            tx.change.move(wanted, target.id)
            self._confirm(person)
            self._confirm(target)
            target_id = target.id
        return self._summary(owner_id, target_id)

    def remove_face(self, principal: Principal, person_id: str, face_id: str) -> None:
        """Take a face out of a person: it is left unassigned and never returns to them."""
        owner_id = require_access(principal, Scope.FULL)
        with self._changing(owner_id) as tx:
            person = self._person(tx.s, owner_id, person_id)
            face = self.repo.face_of(tx.s, owner_id, face_id)
            if face is None or face.person_id != person_id:
                raise NotFound("No such face in this person.")
            self.repo.reassign(tx.s, owner_id, [face_id], None, None)
            self.repo.add_rejections(tx.s, [(face_id, person_id)], self.clock.now())
            tx.change.move([face_id], None)
            self._confirm(person)

    # --- single faces ----------------------------------------------------------------------

    def unassigned(self, principal: Principal, *, limit: int = 100) -> list[FaceView]:
        """Faces in no person, best first, each with the closest person as a suggestion when
        one is near enough ("is this Anna?"), never one the user ruled out."""
        owner_id = require_access(principal, Scope.READ)
        if not 1 <= limit <= UNASSIGNED_MAX:
            raise InvalidInput(f"limit must be between 1 and {UNASSIGNED_MAX}.")
        with self.db.read() as s:
            index = self._check_on(s, owner_id)
            faces = self.repo.unassigned_faces(s, owner_id, limit, 0.0)
            if not faces or index is None:
                return [FaceView(f, None) for f in faces]
            templates = self._templates(s, owner_id, index)
            people = {p.id: p for p in self.repo.all_people(s, owner_id)}
            rejections = self.repo.rejections_of(s, owner_id)
        return [
            FaceView(face, None, self._suggest(face, templates, people, rejections))
            for face in faces
        ]

    def person_suggestions(
        self,
        principal: Principal,
        person_id: str,
        *,
        cursor: str | None = None,
        limit: int = SUGGESTIONS_PAGE,
    ) -> SuggestionPage:
        """One person's "is this X?" queue: the faces in no person (in photos outside the
        trash) whose suggestion is this person, by the same rule as `unassigned`, closest
        first, one page at a time. A hidden person gets no suggestions, as everywhere."""
        owner_id = require_access(principal, Scope.READ)
        if not 1 <= limit <= SUGGESTIONS_MAX:
            raise InvalidInput(f"limit must be between 1 and {SUGGESTIONS_MAX}.")
        after = _decode_suggestion_cursor(cursor) if cursor else None
        with self.db.read() as s:
            index = self._check_on(s, owner_id)
            person = self._person(s, owner_id, person_id)
            if index is None or person.is_hidden:
                return SuggestionPage([], None)
            templates = self._templates(s, owner_id, index)
            people = {p.id: p for p in self.repo.all_people(s, owner_id)}
            rejected = frozenset(
                (templates.position[f], templates.number_of(p))
                for f, p in self.repo.rejections_of(s, owner_id)
                if f in templates.position and templates.number_of(p) >= 0
            )
            eligible = np.array(
                [
                    (p := people.get(pid)) is not None and not p.is_hidden
                    for pid in templates.person_ids
                ],
                dtype=bool,
            )
            positions, distances = clustering.suggestions_for_person(
                templates.embeddings,
                templates.photos,
                templates.people,
                templates.number_of(person_id),
                distance=self.settings.face_suggest_distance,
                eligible=eligible,
                rejected=rejected,
            )
            ranked = [
                (float(d), templates.face_ids[i])
                for i, d in zip(positions.tolist(), distances.tolist(), strict=True)
            ]
            ranked.sort()
            if after is not None:
                ranked = [r for r in ranked if r > after]
            # The snapshot may hold faces since assigned or sent to the trash: the rows say.
            found: list[tuple[Face, float]] = []
            for start in range(0, len(ranked), limit + 1):
                chunk = ranked[start : start + limit + 1]
                rows = self.repo.unassigned_faces_among(s, owner_id, [f for _, f in chunk])
                by_id = {f.id: f for f in rows}
                found.extend((by_id[f], d) for d, f in chunk if f in by_id)
                if len(found) > limit:
                    break
        next_cursor = None
        if len(found) > limit:
            last, distance = found[limit - 1]
            next_cursor = _encode_suggestion_cursor(distance, last.id)
        return SuggestionPage(
            [FaceView(f, None, (person.id, person.name, d)) for f, d in found[:limit]],
            next_cursor,
        )

    def assign_face(
        self,
        principal: Principal,
        face_id: str,
        *,
        person_id: str | None = None,
        name: str | None = None,
    ) -> FaceView:
        """Put a face in a person (confirming a suggestion, or correcting): by id, or by name
        (an existing person of that name, else a new one). The user's choice stays."""
        owner_id = require_access(principal, Scope.FULL)
        with self._changing(owner_id) as tx:
            face = self.repo.face_of(tx.s, owner_id, face_id)
            if face is None:
                raise NotFound("No such face.")
            person = self._person_by(tx.s, owner_id, person_id, name)
            self.repo.reassign(tx.s, owner_id, [face_id], person.id, BY_USER)
            self.repo.delete_rejections(tx.s, [(face_id, person.id)])
            tx.change.move([face_id], person.id)
            self._confirm(person)
            face.person_id, face.assigned_by = person.id, BY_USER
            view = FaceView(face, person.name)
        return view

    def reject_suggestion(self, principal: Principal, face_id: str, person_id: str) -> None:
        """Not that person ("this is not Anna"): the face is never suggested for, or put in,
        that person."""
        owner_id = require_access(principal, Scope.FULL)
        with self._changing(owner_id) as tx:
            face = self.repo.face_of(tx.s, owner_id, face_id)
            if face is None:
                raise NotFound("No such face.")
            person = self._person(tx.s, owner_id, person_id)
            self.repo.add_rejections(tx.s, [(face_id, person_id)], self.clock.now())
            if face.person_id == person_id:
                self.repo.reassign(tx.s, owner_id, [face_id], None, None)
                tx.change.move([face_id], None)
            self._confirm(person)

    def asset_faces(self, principal: Principal, asset_id: str) -> list[FaceView]:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            self._check_on(s, owner_id)
            if self.repo.asset_of(s, owner_id, asset_id) is None:
                raise NotFound("No such asset.")
            return self._views(s, owner_id, self.repo.faces_of_asset(s, owner_id, asset_id))

    def add_manual_face(
        self,
        principal: Principal,
        asset_id: str,
        box: BoxTuple,
        *,
        person_id: str | None = None,
        name: str | None = None,
    ) -> FaceView:
        """A face the user drew where detection missed it. A template is made from the box
        when the engine can align it, so the face also counts for search; a box over a face
        that is already there assigns that face instead of adding another."""
        owner_id = require_access(principal, Scope.FULL)
        with self.db.read() as s:
            self._check_on(s, owner_id)
            asset = self.repo.asset_of(s, owner_id, asset_id)
            if asset is None:
                raise NotFound("No such asset.")
            has_preview = self.repo.is_done(s, asset_id, STEP_PREVIEW)
        width, height = asset.width or 0, asset.height or 0
        if width and height and (box[2] > width + 1 or box[3] > height + 1):
            raise InvalidInput(f"The box must lie inside the {width} x {height} photo.")
        embedding, model_id = self._embed_box(owner_id, asset, box) if has_preview else (None, None)
        with self._changing(owner_id) as tx:
            existing = self.repo.faces_of_asset(tx.s, owner_id, asset_id)
            person = (
                self._person_by(tx.s, owner_id, person_id, name)
                if person_id is not None or name is not None
                else None
            )
            same = match_boxes([_box(f) for f in existing], [box])
            if same:
                face = existing[same[0][0]]
            else:
                face = self._new_face(
                    owner_id, asset, box, SOURCE_MANUAL, embedding, model_id, tx.index
                )
                self.repo.add_faces(tx.s, [face])
                if embedding is not None and model_id == tx.index.model_id:
                    tx.change.add(face.id, asset_id, None, False, embedding)
                else:
                    tx.change.touch()
            if person is not None:
                self.repo.reassign(tx.s, owner_id, [face.id], person.id, BY_USER)
                face.person_id, face.assigned_by = person.id, BY_USER
                tx.change.move([face.id], person.id)
                self._confirm(person)
            view = FaceView(face, person.name if person else None)
        return view

    def face_crop(self, principal: Principal, face_id: str) -> bytes:
        """The face, cut from the photo's preview with some margin, as a JPEG."""
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            self._check_on(s, owner_id)
            face = self.repo.face_of(s, owner_id, face_id)
            if face is None:
                raise NotFound("No such face.")
            asset = self.repo.asset_of(s, owner_id, face.asset_id)
            if asset is None or not self.repo.is_done(s, asset.id, STEP_PREVIEW):
                raise NotFound("The photo's preview is not made yet.")
        preview = self._preview(owner_id, asset.id)
        scale = _preview_scale(preview, asset)
        box = tuple(v * scale for v in _box(face))
        return images.crop_jpeg(preview, (box[0], box[1], box[2], box[3]), CROP_SIZE)

    # --- search ----------------------------------------------------------------------------

    def search_by_example(self, principal: Principal, upload: BinaryIO) -> ExampleSearch:
        """The people and photos of the caller's own library closest to the faces in an
        uploaded photo, with distances. The photo is decoded in memory and dropped: it is not
        stored, and its faces are not kept."""
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            self._check_on(s, owner_id)
        data = upload.read(EXAMPLE_MAX_BYTES + 1)
        if len(data) > EXAMPLE_MAX_BYTES:
            raise PayloadTooLarge(f"Photos larger than {EXAMPLE_MAX_BYTES} bytes are not accepted.")
        image = images.decode_query(
            data, max_pixels=self.settings.max_image_pixels, long_side=self.settings.preview_size
        )
        del data
        analyzer = self.analyzers.get()
        found = analyzer.analyze(image)
        result = self.match_faces(owner_id, [f.embedding for f in found], analyzer.model_id)
        height, width = image.shape[:2]
        faces = []
        for face, people in zip(found, result[0], strict=True):
            box = face.box.clipped(width, height)
            faces.append(ExampleMatch((box.x1, box.y1, box.x2, box.y2), people))
        self._record_now(
            owner_id, f"user:{owner_id}", ACTION_SEARCH, [], {"by": "example", "faces": len(found)}
        )
        return ExampleSearch(width, height, faces, result[1])

    def match_faces(
        self, owner_id: str, embeddings: Sequence[npt.NDArray[np.float32]], model_id: str
    ) -> tuple[list[list[tuple[str, str | None, float]]], list[tuple[Asset, str, float]]]:
        """The search itself, after the query's faces are embedded (the benchmark times this):
        per query face the matching people (mean distance to their closest faces), and the
        photos with a matching face, closest first. Only the owner's templates, of the same
        model as the query, are compared."""
        if not self._allowed(owner_id):
            raise FaceRecognitionOff(_OFF)
        with self.db.read() as s:
            index = self.repo.index_of(s, owner_id)
            if index is None or index.model_id not in (None, model_id) or not embeddings:
                return [[] for _ in embeddings], []
            templates = self._templates(s, owner_id, index)
        query = np.stack(embeddings).astype(np.float32)
        distances = clustering.pairwise_distances(query, templates.embeddings)
        limit = self.settings.face_search_distance
        per_number: list[list[tuple[int, float]]] = []
        best_photo: dict[int, tuple[float, int]] = {}
        for row in distances:
            close = np.nonzero(row < limit)[0]
            close = close[np.argsort(row[close], kind="stable")]
            per_number.append(_closest_people(templates.people[close], row[close]))
            # The first time a photo appears in distance order is its closest face.
            in_photos, first = np.unique(templates.photos[close], return_index=True)
            for photo, at in zip(in_photos.tolist(), first.tolist(), strict=True):
                face = int(close[at])
                if photo not in best_photo or row[face] < best_photo[photo][0]:
                    best_photo[photo] = (float(row[face]), face)
        ranked = sorted(best_photo.items(), key=lambda item: item[1][0])
        # A margin over one page, for photos that went to the trash since they were cached.
        ranked = ranked[: EXAMPLE_MAX_PHOTOS + 20]
        wanted_people = {templates.person_ids[n] for found in per_number for n, _ in found}
        with self.db.read() as s:
            people = {p.id: p for p in self.repo.people_of(s, owner_id, sorted(wanted_people))}
            assets = {
                a.id: a
                for a in self.repo.assets_of(
                    s, owner_id, [templates.asset_ids[photo] for photo, _ in ranked]
                )
            }
        per_face: list[list[tuple[str, str | None, float]]] = []
        for found in per_number:
            matches = []
            for number, distance in found:
                person = people.get(templates.person_ids[number])
                if person is not None and not person.is_hidden:
                    matches.append((person.id, person.name, distance))
            per_face.append(matches)
        photos = [
            (assets[templates.asset_ids[photo]], templates.face_ids[face], distance)
            for photo, (distance, face) in ranked
            if templates.asset_ids[photo] in assets
        ][:EXAMPLE_MAX_PHOTOS]
        self.media.reveal([a for a, _, _ in photos])
        return per_face, photos

    # --- face regions out and in -----------------------------------------------------------

    def asset_xmp(self, principal: Principal, asset_id: str) -> str:
        """An XMP sidecar with the photo's face regions (MWG) and the people's names."""
        owner_id = require_access(principal, Scope.READ)
        self._require_on(owner_id)
        return self._xmp(owner_id, asset_id)

    def export_xmp(self, principal: Principal, asset_id: str) -> str:
        """`asset_xmp` for a takeout: without the consent check, like `export_templates`,
        so a user whose consent waits for a new text still takes all their data along."""
        return self._xmp(require_access(principal, Scope.FULL), asset_id)

    def _xmp(self, owner_id: str, asset_id: str) -> str:
        with self.db.read() as s:
            asset = self.repo.asset_of(s, owner_id, asset_id)
            if asset is None:
                raise NotFound("No such asset.")
            views = self._views(s, owner_id, self.repo.faces_of_asset(s, owner_id, asset_id))
        width, height = asset.width or 1, asset.height or 1
        regions = [
            xmp.Region(
                (v.face.x1 / width, v.face.y1 / height, v.face.x2 / width, v.face.y2 / height),
                v.person_name,
            )
            for v in views
        ]
        return xmp.render(regions, width, height, asset.orientation)

    def export_templates(self, principal: Principal) -> Iterator[dict[str, Any]]:
        """The caller's face templates, decrypted, one JSON-ready object per face (for a
        takeout that asks for them), read in pages as the archive is streamed. Consent is not
        asked: this gives the owner their own data back and processes nothing (templates
        exist only with consent, and withdrawing deletes them). The takeout ledgers it."""
        owner_id = require_access(principal, Scope.FULL)
        after = ""
        while True:
            with self.db.read() as s:
                page = self.repo.templates_page(
                    s, owner_id, after_id=after, limit=TEMPLATE_EXPORT_PAGE
                )
            for face in page:
                assert face.embedding is not None
                vector = self._open(owner_id, face.id, face.embedding)
                yield {
                    "face_id": face.id,
                    "asset_id": face.asset_id,
                    "person_id": face.person_id,
                    "model_id": face.model_id,
                    "box": [face.x1, face.y1, face.x2, face.y2],
                    "embedding": [float(v) for v in vector.tolist()],
                }
            if len(page) < TEMPLATE_EXPORT_PAGE:
                return
            after = page[-1].id

    def template_count(self, principal: Principal) -> int:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            return self.repo.template_count(s, owner_id)

    def import_xmp(self, principal: Principal, asset_id: str, data: bytes) -> tuple[int, int]:
        """Face regions from an XMP sidecar (digiKam, Lightroom, Immich): a region over a face
        already there names that face, others become faces; named regions are assigned to the
        person of that name (created if none). Returns (faces created, faces assigned)."""
        owner_id = require_access(principal, Scope.FULL)
        with self.db.read() as s:
            self._check_on(s, owner_id)
            asset = self.repo.asset_of(s, owner_id, asset_id)
            if asset is None:
                raise NotFound("No such asset.")
        width, height = asset.width or 0, asset.height or 0
        if not width or not height:
            raise InvalidInput("The photo's size is unknown; regions cannot be placed.")
        regions = xmp.parse(data, width, height, asset.orientation)
        boxes = [
            (r.box[0] * width, r.box[1] * height, r.box[2] * width, r.box[3] * height)
            for r in regions
        ]
        created = assigned = 0
        with self._changing(owner_id) as tx:
            existing = self.repo.faces_of_asset(tx.s, owner_id, asset_id)
            matched = {j: i for i, j in match_boxes([_box(f) for f in existing], boxes)}
            for j, region in enumerate(regions):
                if j in matched:
                    face = existing[matched[j]]
                else:
                    face = self._new_face(
                        owner_id, asset, boxes[j], SOURCE_XMP, None, None, tx.index
                    )
                    self.repo.add_faces(tx.s, [face])
                    created += 1
                    tx.change.touch()
                if region.name:
                    person = self._person_by(tx.s, owner_id, None, region.name)
                    self.repo.reassign(tx.s, owner_id, [face.id], person.id, BY_USER)
                    tx.change.move([face.id], person.id)
                    self._confirm(person)
                    assigned += 1
        return created, assigned

    # --- internals -------------------------------------------------------------------------

    @contextmanager
    def _changing(self, owner_id: str) -> Iterator[_Tx]:
        """A write transaction on the owner's faces: under the lock of their index row, after
        checking the switch (again: it may have been turned off since the caller looked),
        bumping the index version if anything changed, and replaying the change on this
        process's templates after the commit."""
        now = self.clock.now()
        change = TemplateChange()
        after: list[tuple[str, str]] = []
        with self.db.write() as s:
            index = self.repo.lock_index(s, owner_id, now)
            # Asked under the lock: a withdrawal ends consent first, then its hook deletes
            # under this same lock, so a writer either sees consent ended or finishes first
            # and has its work deleted by the hook.
            if not self._allowed(owner_id):
                raise FaceRecognitionOff(_OFF)
            before = index.version
            yield _Tx(s, index, change, after)
            if change.touched:
                self.repo.delete_empty_automatic_people(s, owner_id)
                index.version = before + 1
                index.updated_at = now
        if change.touched:
            self.cache.apply(owner_id, before, before + 1, change)
        for job, arg in after:
            self.jobs.enqueue(job, arg)

    def _allowed(self, owner_id: str) -> bool:
        """The consent check: consent to the current text of face recognition."""
        return self.consent.allows(owner_id, PURPOSE)

    def _check_on(self, s: Session, owner_id: str) -> FaceIndex | None:
        if not self._allowed(owner_id):
            raise FaceRecognitionOff(_OFF)
        return self.repo.index_of(s, owner_id)

    def _require_on(self, owner_id: str) -> None:
        with self.db.read() as s:
            self._check_on(s, owner_id)

    def _templates(self, s: Session, owner_id: str, index: FaceIndex) -> Templates:
        model_id = index.model_id or self.analyzers.model_id

        def load() -> Templates:
            for _ in range(5):
                # Read the version on both sides of the rows: on PostgreSQL (read committed)
                # a change can commit in between, and a snapshot must match its version.
                start = self._version(s, owner_id)
                rows = self.repo.template_rows(s, owner_id, model_id)
                if self._version(s, owner_id) == start:
                    break
            face_ids = [r[0] for r in rows]
            saved_ids, saved_matrix = self._read_saved_templates(owner_id, model_id)
            where = dict(zip(saved_ids, range(len(saved_ids)), strict=True))
            at = np.fromiter((where.get(f, -1) for f in face_ids), np.int64, len(face_ids))
            embeddings = np.zeros((len(face_ids), saved_matrix.shape[1]), dtype=np.float32)
            embeddings[at >= 0] = saved_matrix[at[at >= 0]]
            missing = [face_ids[i] for i in np.nonzero(at < 0)[0].tolist()]
            sealed = self.repo.sealed_templates(s, owner_id, missing)
            keep = np.ones(len(face_ids), dtype=bool)
            for i in np.nonzero(at < 0)[0].tolist():
                data = sealed.get(face_ids[i])
                if data is None:  # deleted since the rows were read
                    keep[i] = False
                else:
                    embeddings[i] = self._open(owner_id, face_ids[i], data)
            templates = Templates.from_columns(
                start,
                model_id,
                [f for f, k in zip(face_ids, keep.tolist(), strict=True) if k],
                [r[1] for r, k in zip(rows, keep.tolist(), strict=True) if k],
                [r[2] for r, k in zip(rows, keep.tolist(), strict=True) if k],
                np.array([r[3] for r in rows], dtype=bool)[keep],
                embeddings[keep],
            )
            if len(missing) > SAVED_TEMPLATES_SLACK * max(len(rows), 1):
                self._save_templates(owner_id, templates)
            return templates

        return self.cache.get(owner_id, index.version, model_id, load)

    def _saved_key(self, owner_id: str) -> str:
        return blob_key(SAVED_TEMPLATES, owner_id, "matrix")

    def _read_saved_templates(
        self, owner_id: str, model_id: str
    ) -> tuple[list[str], npt.NDArray[np.float32]]:
        """The owner's templates as last saved in one sealed blob: face ids and matrix; none
        when there is no such blob, or it is of another model or unreadable (it is only a
        cache, rebuilt from the rows)."""
        nothing: tuple[list[str], npt.NDArray[np.float32]] = (
            [],
            np.zeros((0, self.analyzers.get().embedding_dim), dtype=np.float32),
        )
        key = self._saved_key(owner_id)
        if not self.blobs.exists(key):
            return nothing
        try:
            data = self.keys.unseal(
                owner_id, b"".join(self.blobs.read(key)), _SAVED_AD, Purpose.TEMPLATES
            )
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                if str(saved["model_id"]) != model_id:
                    return nothing
                ids = saved["face_ids"].astype(str).tolist()
                matrix = saved["embeddings"].astype(np.float32)
        except Exception:  # a cache that cannot be read is rebuilt, never trusted
            log.warning("saved face templates of %s unreadable; rebuilding", owner_id)
            return nothing
        return ids, matrix

    def _save_templates(self, owner_id: str, templates: Templates) -> None:
        """Save the whole matrix sealed as one value (one AES-GCM operation instead of one per
        face), so the next start of a process loads 200,000 templates in about a second
        instead of decrypting them one by one (about a minute)."""
        out = io.BytesIO()
        np.savez(
            out,
            model_id=np.array(templates.model_id),
            face_ids=np.array([f.encode() for f in templates.face_ids], dtype="S36"),
            embeddings=templates.embeddings.astype("<f4"),
        )
        sealed = self.keys.seal(owner_id, out.getvalue(), _SAVED_AD, Purpose.TEMPLATES)
        self.blobs.put(self._saved_key(owner_id), io.BytesIO(sealed))
        if not self._allowed(
            owner_id
        ):  # turned off while we saved: the copy must not outlive the rows
            self.forget_files(owner_id)

    def forget_files(self, owner_id: str) -> None:
        """Delete the owner's saved template matrix and drop their templates from this
        process's memory (turning off, account deletion)."""
        self.cache.drop(owner_id)
        self.blobs.delete(self._saved_key(owner_id))

    def _version(self, s: Session, owner_id: str) -> int:
        return self.repo.index_version(s, owner_id)

    def _seal(self, owner_id: str, face_id: str, embedding: npt.NDArray[np.float32]) -> bytes:
        data = np.ascontiguousarray(embedding, dtype="<f4").tobytes()
        return self.keys.seal(owner_id, data, face_id.encode(), Purpose.TEMPLATES)

    def _open(self, owner_id: str, face_id: str, sealed: bytes) -> npt.NDArray[np.float32]:
        data = self.keys.unseal(owner_id, sealed, face_id.encode(), Purpose.TEMPLATES)
        return np.frombuffer(data, dtype="<f4").astype(np.float32)

    def _new_face(
        self,
        owner_id: str,
        asset: Asset,
        box: BoxTuple,
        source: str,
        embedding: npt.NDArray[np.float32] | None,
        model_id: str | None,
        index: FaceIndex,
    ) -> Face:
        face = Face(
            id=new_id(),
            owner_id=owner_id,
            asset_id=asset.id,
            person_id=None,
            taken_at=asset.taken_at,
            x1=float(box[0]),
            y1=float(box[1]),
            x2=float(box[2]),
            y2=float(box[3]),
            landmarks=None,
            confidence=0.0,
            quality=0.0,
            is_seed=False,
            model_id=None,
            source=source,
            assigned_by=None,
            created_at=self.clock.now(),
        )
        if embedding is not None and model_id is not None:
            if index.model_id is None:
                index.model_id = model_id
            face.embedding = self._seal(owner_id, face.id, embedding)
            face.model_id = model_id
        return face

    def _store_detections(
        self,
        tx: _Tx,
        asset: Asset,
        detections: Sequence[tuple[DetectedFace, bool]],
        model_id: str,
    ) -> None:
        s, owner_id = tx.s, asset.owner_id
        if tx.index.model_id is None:
            tx.index.model_id = model_id
        elif tx.index.model_id != model_id:
            self._switch_model(tx, model_id)
        templates = self._templates(s, owner_id, tx.index)
        existing = self.repo.faces_of_asset(s, owner_id, asset.id)
        boxes: list[BoxTuple] = [(d.box.x1, d.box.y1, d.box.x2, d.box.y2) for d, _ in detections]
        pairs = match_boxes([_box(f) for f in existing], boxes)
        matched_new = {j for _, j in pairs}
        matched_old = {i for i, _ in pairs}
        to_place: list[tuple[Face, npt.NDArray[np.float32], bool]] = []
        for i, j in pairs:
            face, (found, seed) = existing[i], detections[j]
            current = face.model_id == model_id and face.embedding is not None
            _update_geometry(face, found, seed)
            if current:
                continue  # the same model finds the same face: nothing new to learn
            face.embedding = self._seal(owner_id, face.id, found.embedding)
            face.model_id = model_id
            if face.person_id is None:
                to_place.append((face, found.embedding, seed))
            else:
                tx.change.add(face.id, asset.id, face.person_id, seed, found.embedding)
        fresh = []
        for j, (found, seed) in enumerate(detections):
            if j in matched_new:
                continue
            face = self._new_face(
                owner_id, asset, boxes[j], SOURCE_DETECTED, found.embedding, model_id, tx.index
            )
            _update_geometry(face, found, seed)
            fresh.append(face)
            to_place.append((face, found.embedding, seed))
        gone = [
            f.id
            for i, f in enumerate(existing)
            if i not in matched_old and f.source == SOURCE_DETECTED and f.assigned_by != BY_USER
        ]
        self.repo.delete_faces(s, owner_id, gone)
        if gone:
            tx.change.remove(gone)
        self.repo.add_faces(s, fresh)
        self._place(tx, owner_id, templates, asset.id, to_place)

    def _place(
        self,
        tx: _Tx,
        owner_id: str,
        templates: Templates,
        asset_id: str,
        faces: Sequence[tuple[Face, npt.NDArray[np.float32], bool]],
    ) -> None:
        """The incremental step (clustering.place_new_faces) for faces just stored."""
        if not faces:
            return
        s = tx.s
        people = {p.id: p for p in self.repo.all_people(s, owner_id)}
        rejections = self.repo.rejections_of(s, owner_id)
        confirmed = frozenset(
            templates.number_of(p.id) for p in people.values() if p.is_confirmed
        ) - {-1}
        known_rejected = frozenset(
            (templates.position[f], templates.number_of(p))
            for f, p in rejections
            if f in templates.position and templates.number_of(p) >= 0
        )
        photo = (
            templates.asset_ids.index(asset_id)
            if asset_id in templates.asset_ids
            else len(templates.asset_ids)
        )
        new_rejected = frozenset(
            (k, templates.number_of(p))
            for k, (face, _, _) in enumerate(faces)
            for f, p in rejections
            if f == face.id and templates.number_of(p) >= 0
        )
        placement = clustering.place_new_faces(
            KnownFaces(
                templates.embeddings,
                templates.photos,
                templates.seeds,
                templates.people,
                confirmed=confirmed,
                rejected=known_rejected,
            ),
            NewFaces(
                np.stack([e for _, e, _ in faces]).astype(np.float32),
                np.full(len(faces), photo, dtype=np.int64),
                np.array([seed for _, _, seed in faces], dtype=bool),
                rejected=new_rejected,
            ),
            self.params,
        )
        ids = {number: templates.person_of(number) for number in range(len(templates.person_ids))}
        for number in placement.created:
            ids[number] = self._new_person(s, owner_id, None, confirmed=False).id
        moves: dict[str | None, list[str]] = {}
        for position, number in placement.known_changes.items():
            moves.setdefault(ids[number] if number >= 0 else None, []).append(
                templates.face_ids[position]
            )
        for person_id, face_ids in moves.items():
            self.repo.reassign(s, owner_id, face_ids, person_id, BY_AUTO if person_id else None)
            tx.change.move(face_ids, person_id)
        for (face, embedding, seed), number in zip(
            faces, placement.new_labels.tolist(), strict=True
        ):
            person_id = ids[number] if number >= 0 else None
            face.person_id = person_id
            face.assigned_by = BY_AUTO if person_id else None
            tx.change.add(face.id, asset_id, person_id, seed, embedding)
        s.flush()

    def _switch_model(self, tx: _Tx, model_id: str) -> None:
        if tx.index.model_id == model_id:
            return
        tx.index.model_id = model_id
        self.repo.clear_face_steps(tx.s, tx.index.owner_id, STEP_FACES)
        tx.change.reset = True
        tx.change.touch()
        tx.after_commit.append((INDEX_LIBRARY_JOB, tx.index.owner_id))

    def _full_labels(
        self,
        templates: Templates,
        people: Mapping[str, Person],
        rejections: set[tuple[str, str]],
    ) -> tuple[list[str | None], dict[int, str]]:
        """The full re-cluster: a person id (or None) per template; new people by label."""
        confirmed = {
            n
            for pid, p in people.items()
            if p.is_confirmed and (n := templates.number_of(pid)) >= 0
        }
        anchors = np.array(
            [int(n) if int(n) in confirmed else -1 for n in templates.people], dtype=np.int64
        )
        rejected = frozenset(
            (templates.position[f], templates.number_of(p))
            for f, p in rejections
            if f in templates.position and templates.number_of(p) in confirmed
        )
        labels = clustering.cluster(
            FaceSet(templates.embeddings, templates.photos, templates.seeds, anchors, rejected),
            self.params,
        )
        free = [int(n) if int(n) not in confirmed else -1 for n in templates.people]
        new_labels = [int(label) if int(label) not in confirmed else -1 for label in labels]
        reuse = clustering.relabel(free, new_labels, fixed=confirmed)
        created: dict[int, str] = {}
        desired: list[str | None] = []
        for label in labels.tolist():
            if label < 0:
                desired.append(None)
            elif label in confirmed:
                desired.append(templates.person_ids[label])
            elif label in reuse:
                desired.append(templates.person_ids[reuse[label]])
            else:
                desired.append(created.setdefault(label, new_id()))
        return desired, created

    def _apply_labels(
        self,
        tx: _Tx,
        owner_id: str,
        templates: Templates,
        desired: Sequence[str | None],
        created: Mapping[int, str],
    ) -> None:
        now = self.clock.now()
        for person_id in created.values():
            self.repo.add_person(
                tx.s,
                Person(
                    id=person_id,
                    owner_id=owner_id,
                    name=None,
                    is_hidden=False,
                    is_confirmed=False,
                    cover_face_id=None,
                    created_at=now,
                    updated_at=now,
                ),
            )
        moves: dict[str | None, list[str]] = {}
        for i, wanted in enumerate(desired):
            if templates.person_of(int(templates.people[i])) != wanted:
                moves.setdefault(wanted, []).append(templates.face_ids[i])
        for target, face_ids in moves.items():
            self.repo.reassign(tx.s, owner_id, face_ids, target, BY_AUTO if target else None)
            tx.change.move(face_ids, target)
        tx.change.touch()

    def _suggest(
        self,
        face: Face,
        templates: Templates,
        people: Mapping[str, Person],
        rejections: set[tuple[str, str]],
    ) -> tuple[str, str | None, float] | None:
        at = templates.position.get(face.id)
        if at is None:
            return None
        numbers, linkage = clustering.person_linkage(
            templates.embeddings[[at]], templates.embeddings, templates.people
        )
        same_photo = {
            int(templates.people[i])
            for i in np.nonzero(templates.photos == templates.photos[at])[0].tolist()
        }
        best = None
        for number, distance in zip(numbers.tolist(), linkage[0].tolist(), strict=True):
            person_id = templates.person_ids[number]
            person = people.get(person_id)
            if (
                person is None
                or person.is_hidden
                or number in same_photo
                or (face.id, person_id) in rejections
                or distance >= self.settings.face_suggest_distance
            ):
                continue
            if best is None or distance < best[2]:
                best = (person_id, person.name, float(distance))
        return best

    def _photos_with(
        self,
        s: Session,
        owner_id: str,
        person_ids: Sequence[str],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Asset], str | None]:
        before = decode_cursor(cursor) if cursor else None
        rows = self.repo.assets_with_people(s, owner_id, person_ids, limit=limit + 1, before=before)
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return self.media.reveal(rows[:limit]), next_cursor

    def _views(self, s: Session, owner_id: str, faces: Sequence[Face]) -> list[FaceView]:
        names = {
            p.id: p.name
            for p in self.repo.people_of(s, owner_id, [f.person_id for f in faces if f.person_id])
        }
        return [FaceView(f, names.get(f.person_id) if f.person_id else None) for f in faces]

    def _person(self, s: Session, owner_id: str, person_id: str) -> Person:
        person = self.repo.person_of(s, owner_id, person_id)
        if person is None:
            raise NotFound("No such person.")
        return person

    def _person_by(
        self, s: Session, owner_id: str, person_id: str | None, name: str | None
    ) -> Person:
        if person_id is not None:
            return self._person(s, owner_id, person_id)
        clean = (name or "").strip()
        if not clean:
            raise InvalidInput("Give a person or a name.")
        return self.repo.person_by_name(s, owner_id, clean) or self._new_person(
            s, owner_id, clean, confirmed=True
        )

    def _new_person(
        self, s: Session, owner_id: str, name: str | None, *, confirmed: bool
    ) -> Person:
        now = self.clock.now()
        person = Person(
            id=new_id(),
            owner_id=owner_id,
            name=(name or "").strip() or None,
            is_hidden=False,
            is_confirmed=confirmed,
            cover_face_id=None,
            created_at=now,
            updated_at=now,
        )
        self.repo.add_person(s, person)
        return person

    def _confirm(self, person: Person) -> None:
        person.is_confirmed = True
        person.updated_at = self.clock.now()

    def _summary(self, owner_id: str, person_id: str) -> PersonSummary:
        with self.db.read() as s:
            found = self.repo.summaries(s, owner_id, include_hidden=True, person_ids=[person_id])
        if not found:
            raise NotFound("No such person.")
        return found[0]

    def _preview(self, owner_id: str, asset_id: str) -> npt.NDArray[np.uint8]:
        return images.decode_preview(
            b"".join(self.blobs.read(blob_key(PREVIEWS, owner_id, asset_id)))
        )

    def _embed_box(
        self, owner_id: str, asset: Asset, box: BoxTuple
    ) -> tuple[npt.NDArray[np.float32] | None, str | None]:
        """A template for a drawn box, when the engine can align a face in it."""
        analyzer = self.analyzers.get()
        chips_of = getattr(analyzer, "face_chips", None)
        if chips_of is None:
            return None, None
        from keepsake.ml import Box as MlBox

        preview = self._preview(owner_id, asset.id)
        scale = _preview_scale(preview, asset)
        chips = chips_of(preview, [MlBox(*(v * scale for v in box))])
        embedding = analyzer.embed_chips(chips)[0]
        return np.asarray(embedding, dtype=np.float32), analyzer.model_id

    def _check_limit(self, limit: int) -> None:
        if not 1 <= limit <= SEARCH_MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {SEARCH_MAX_PAGE}.")

    def _record(
        self,
        s: Session,
        owner_id: str,
        actor: str,
        action: str,
        object_ids: Sequence[str],
        detail: Mapping[str, DetailValue] | None = None,
    ) -> None:
        self.ledger.append(s, owner_id, actor, action, PURPOSE, list(object_ids)[:1000], detail)

    def _record_now(
        self,
        owner_id: str,
        actor: str,
        action: str,
        object_ids: Sequence[str],
        detail: Mapping[str, DetailValue] | None = None,
    ) -> None:
        with self.db.write() as s:
            self._record(s, owner_id, actor, action, object_ids, detail)

    def _record_skip(self, owner_id: str, asset_id: str | None) -> None:
        """A job found no consent: it did nothing, and the owner's ledger says so."""
        self._record_now(owner_id, JOB_ACTOR, ACTION_SKIPPED, [asset_id] if asset_id else [])


def _encode_suggestion_cursor(distance: float, face_id: str) -> str:
    return base64.urlsafe_b64encode(f"{distance!r}|{face_id}".encode()).decode()


def _decode_suggestion_cursor(cursor: str) -> tuple[float, str]:
    try:
        distance, face_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return float(distance), face_id
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidInput("This cursor is not one Keepsake gave out.") from err


_OFF = "Face recognition is off for your account; turn it on in your settings first."


def _closest_people(
    numbers: npt.NDArray[np.int64], distances: npt.NDArray[np.float32]
) -> list[tuple[int, float]]:
    """(person number, mean distance to their EXAMPLE_PERSON_NEIGHBOURS closest faces), closest
    first, from faces already sorted by distance (number -1: in no person)."""
    named = numbers >= 0
    numbers, distances = numbers[named], distances[named]
    if not len(numbers):
        return []
    order = np.argsort(numbers, kind="stable")  # grouped by person, each still by distance
    numbers, distances = numbers[order], distances[order]
    starts = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(numbers)]))
    closest = np.arange(len(numbers)) - starts[group] < EXAMPLE_PERSON_NEIGHBOURS
    sums = np.bincount(group[closest], weights=distances[closest])
    counts = np.bincount(group[closest])
    means = sums / counts
    return sorted(
        ((int(numbers[start]), float(mean)) for start, mean in zip(starts, means, strict=True)),
        key=lambda item: item[1],
    )


def _box(face: Face) -> BoxTuple:
    return (face.x1, face.y1, face.x2, face.y2)


def _update_geometry(face: Face, found: DetectedFace, seed: bool) -> None:
    face.x1, face.y1, face.x2, face.y2 = (float(v) for v in found.box)
    face.landmarks = [[float(x), float(y)] for x, y in np.asarray(found.landmarks).tolist()]
    face.confidence = float(found.confidence)
    face.quality = float(found.quality)
    face.is_seed = bool(seed)


def _preview_scale(preview: npt.NDArray[np.uint8], asset: Asset) -> float:
    """Preview pixels per original pixel (the preview is the photo as displayed, scaled)."""
    height, width = preview.shape[:2]
    return float(max(width, height) / max(asset.width or width, asset.height or height))


def _person_state(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "is_hidden": person.is_hidden,
        "is_confirmed": person.is_confirmed,
        "cover_face_id": person.cover_face_id,
    }


def _restore_state(person: Person, state: Mapping[str, Any], now: datetime) -> None:
    person.name = state["name"]
    person.is_hidden = bool(state["is_hidden"])
    person.is_confirmed = bool(state["is_confirmed"])
    person.cover_face_id = state["cover_face_id"]
    person.updated_at = now
