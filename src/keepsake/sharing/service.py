"""Use cases of sharing with other users: an owner shares an album with viewers and
contributors, members open it, contribute and leave; a user shares their timeline with a
partner, who sees it merged into their own.

Grants are read from the database on every call (nothing is cached), so a revocation, a role
change or the end of a partner share counts from the next request on. Every read by someone
other than the data's owner is written to the owner's ledger before the data is handed over."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from keepsake.auth.access import Principal, Scope, require_access
from keepsake.clock import Clock
from keepsake.errors import Conflict, InvalidInput, NotFound
from keepsake.ids import new_id
from keepsake.media.cursor import decode_cursor, encode_cursor
from keepsake.media.repository import MediaRepository
from keepsake.media.service import BlobRead, MediaService
from keepsake.sharing.errors import NotContributor
from keepsake.sharing.ports import (
    PEOPLE_SHARING,
    SHARE_ACCESSED,
    NamedFace,
    SharingPorts,
    user_actor,
)
from keepsake.sharing.repository import SharingRepository
from keepsake.storage.db import Database
from keepsake.storage.models import Album, AlbumShare, Asset, PartnerShare, User

PARTNER_TIMELINE_MAX_PAGE = 500
FILE_KINDS = ("thumbnail", "preview", "original")


class Role(StrEnum):
    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"


OWNER = "owner"  # the role an album's owner has in it; never stored


@dataclass(frozen=True)
class SharedAlbumSummary:
    album: Album
    share: AlbumShare
    owner: User
    asset_count: int


@dataclass(frozen=True)
class SharedAlbumView:
    """An album as one of its members (or its owner) sees it."""

    album: Album
    role: str
    owner: User
    assets: list[Asset]
    owners: dict[str, User]  # of every photo in it, by id
    people_visible: bool
    faces: Mapping[str, Sequence[NamedFace]]
    shared_at: datetime | None


@dataclass(frozen=True)
class PartnerView:
    share: PartnerShare
    owner: User
    partner: User


@dataclass(frozen=True)
class PartnerItem:
    asset: Asset
    owner: User
    from_partner: bool


class SharingService:
    def __init__(
        self,
        db: Database,
        repo: SharingRepository,
        media_repo: MediaRepository,
        media: MediaService,
        clock: Clock,
        ports: SharingPorts | None = None,
    ) -> None:
        self.db = db
        self.repo = repo
        # The library's timeline query, reused for the partner's merged timeline.
        self.media_repo = media_repo
        self.media = media
        self.clock = clock
        self.ports = ports or SharingPorts()

    # --- the owner's side of album shares ----------------------------------------------

    def share_album(
        self, principal: Principal, album_id: str, email: str, role: str
    ) -> tuple[AlbumShare, User]:
        owner_id = require_access(principal, Scope.FULL)
        role = _role(role)
        now = self.clock.now()
        with self.db.write() as s:
            album = self._owned_album(s, owner_id, album_id)
            recipient = self._recipient(s, owner_id, email)
            if self.repo.share_for(s, album.id, recipient.id) is not None:
                raise Conflict("The album is shared with this user already; change the role.")
            share = AlbumShare(
                id=new_id(),
                album_id=album.id,
                recipient_id=recipient.id,
                role=role,
                created_at=now,
                updated_at=now,
            )
            self.repo.add_share(s, share)
            return share, recipient

    def album_shares(self, principal: Principal, album_id: str) -> list[tuple[AlbumShare, User]]:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            album = self._owned_album(s, owner_id, album_id)
            return self.repo.shares_of_album(s, album.id)

    def change_role(
        self, principal: Principal, album_id: str, share_id: str, role: str
    ) -> tuple[AlbumShare, User]:
        """A contributor made a viewer keeps the photos they added (still theirs to remove)."""
        owner_id = require_access(principal, Scope.FULL)
        role = _role(role)
        with self.db.write() as s:
            album = self._owned_album(s, owner_id, album_id)
            share = self._share(s, album.id, share_id)
            share.role = role
            share.updated_at = self.clock.now()
            recipient = self.repo.users_by_ids(s, [share.recipient_id])[share.recipient_id]
            return share, recipient

    def revoke_share(self, principal: Principal, album_id: str, share_id: str) -> None:
        """End a member's access; the photos they added leave the album (not their library)."""
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            album = self._owned_album(s, owner_id, album_id)
            share = self._share(s, album.id, share_id)
            self._end_membership(s, album, share)

    # --- the members' side -------------------------------------------------------------

    def shared_albums(self, principal: Principal) -> list[SharedAlbumSummary]:
        """Albums other users share with the caller, newest first."""
        user_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            rows = self.repo.albums_shared_with(s, user_id)
        return [SharedAlbumSummary(a, share, owner, n) for a, share, owner, n in rows]

    def shared_album(self, principal: Principal, album_id: str) -> SharedAlbumView:
        """The album with every member's photos in it, and, where each photo's owner consents
        to `people_sharing`, the names and boxes of the people they named in it."""
        user_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            album, share = self._membership(s, user_id, album_id)
            assets = self.repo.album_assets(s, album)
            owners = self.repo.users_by_ids(s, [album.owner_id, *(a.owner_id for a in assets)])
        self.media.reveal(assets)
        faces, consenting = self._faces(assets)
        self._record_reads(
            user_id,
            assets,
            what="album",
            album_id=album.id,
            album_owner_id=album.owner_id,
            people_shown=consenting,
        )
        return SharedAlbumView(
            album=album,
            role=share.role if share else OWNER,
            owner=owners[album.owner_id],
            assets=assets,
            owners=owners,
            people_visible=bool(consenting),
            faces=faces,
            shared_at=share.created_at if share else None,
        )

    def owner_album(self, principal: Principal, album_id: str) -> SharedAlbumView:
        """The owner's own album (the library's `GET /api/albums/{id}`) with the photos its
        members added. Those stay their owners' data: the owner is a reader of them like any
        member, so each contributor whose photos are listed gets one ledger entry for the
        view (not one per photo), and names are shown only with that contributor's consent.
        Anyone but the owner gets the 404 of an album that does not exist."""
        user_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            album = self._owned_album(s, user_id, album_id)
            assets = self.repo.album_assets(s, album)
            owners = self.repo.users_by_ids(s, [album.owner_id, *(a.owner_id for a in assets)])
        self.media.reveal(assets)
        theirs = [a for a in assets if a.owner_id != user_id]
        faces, consenting = self._faces(theirs)
        self._record_reads(
            user_id, theirs, what="album", album_id=album.id, people_shown=consenting
        )
        return SharedAlbumView(
            album=album,
            role=OWNER,
            owner=owners[album.owner_id],
            assets=assets,
            owners=owners,
            people_visible=bool(consenting),
            faces=faces,
            shared_at=None,
        )

    def album_file(
        self, principal: Principal, album_id: str, asset_id: str, kind: str
    ) -> tuple[Asset, BlobRead]:
        """A thumbnail, preview or original of a photo in an album the caller is a member
        (or the owner) of, whoever owns the photo."""
        user_id = require_access(principal, Scope.READ)
        _check_kind(kind)
        with self.db.read() as s:
            album, _share = self._membership(s, user_id, album_id)
            asset = self.repo.album_asset(s, album.id, asset_id)
        if asset is None:
            raise NotFound("No such photo in this album.")
        self.media.reveal([asset])
        blob = self.media.shared_file(asset, kind)
        self._record_reads(user_id, [asset], what=kind, album_id=album.id)
        return asset, blob

    def add_to_album(self, principal: Principal, album_id: str, asset_ids: Sequence[str]) -> int:
        """A contributor (or the owner) adds photos of their own; they stay theirs."""
        user_id = require_access(principal, Scope.FULL)
        now = self.clock.now()
        with self.db.write() as s:
            album, share = self._membership(s, user_id, album_id)
            if share is not None and share.role != Role.CONTRIBUTOR:
                raise NotContributor(
                    "Viewers cannot add photos; ask the owner to make you a contributor."
                )
            owned = {a.id for a in self.repo.untrashed_assets_of(s, user_id, asset_ids)}
            missing = [a for a in asset_ids if a not in owned]
            if missing:
                raise NotFound(f"No such asset: {missing[0]}")
            added = self.repo.add_to_album(s, album.id, list(asset_ids), now)
            if album.cover_asset_id is None and asset_ids:
                album.cover_asset_id = asset_ids[0]
            album.updated_at = now
            return added

    def remove_from_album(
        self, principal: Principal, album_id: str, asset_ids: Sequence[str]
    ) -> int:
        """Members remove their own photos, whatever their role now; the owner removes any.
        Removing from the album never deletes a photo."""
        user_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            album, share = self._membership(s, user_id, album_id)
            owners = self.repo.album_asset_owners(s, album.id, asset_ids)
            if share is not None and any(o != user_id for o in owners.values()):
                raise NotContributor("You can remove only the photos you added.")
            removed = self.repo.remove_from_album(s, album.id, list(owners))
            if album.cover_asset_id in owners:
                album.cover_asset_id = None
            album.updated_at = self.clock.now()
            return removed

    def leave(self, principal: Principal, album_id: str) -> None:
        """Stop being a member; the photos the caller added leave the album with them."""
        user_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            album, share = self._membership(s, user_id, album_id)
            if share is None:
                raise Conflict("The owner cannot leave their own album; delete it instead.")
            self._end_membership(s, album, share)

    # --- partner sharing ---------------------------------------------------------------

    def partner_status(self, principal: Principal) -> tuple[PartnerView | None, list[PartnerView]]:
        """Whom the caller shares their timeline with, and who shares theirs with the caller."""
        user_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            mine = self.repo.partner_share_of(s, user_id)
            theirs = self.repo.partner_shares_to(s, user_id)
            ids = [user_id] + ([mine.partner_id] if mine else []) + [p.owner_id for p in theirs]
            users = self.repo.users_by_ids(s, ids)
        outgoing = PartnerView(mine, users[user_id], users[mine.partner_id]) if mine else None
        incoming = [PartnerView(p, users[p.owner_id], users[user_id]) for p in theirs]
        return outgoing, incoming

    def share_with_partner(
        self, principal: Principal, email: str, since: datetime | None
    ) -> PartnerView:
        """Share the caller's timeline (photos taken from `since` on, if given) with one
        partner, read-only. Asking again for the same partner changes `since`."""
        user_id = require_access(principal, Scope.FULL)
        since = _aware(since)
        with self.db.write() as s:
            partner = self._recipient(s, user_id, email)
            share = self.repo.partner_share_of(s, user_id)
            if share is not None and share.partner_id != partner.id:
                raise Conflict(
                    "Your timeline is shared with another partner; end that first.",
                    share_id=share.id,
                )
            if share is None:
                share = PartnerShare(
                    id=new_id(),
                    owner_id=user_id,
                    partner_id=partner.id,
                    since=since,
                    created_at=self.clock.now(),
                )
                self.repo.add_partner_share(s, share)
            else:
                share.since = since
            me = self.repo.users_by_ids(s, [user_id])[user_id]
            return PartnerView(share, me, partner)

    def update_partner_share(
        self, principal: Principal, share_id: str, since: datetime | None
    ) -> PartnerView:
        user_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            share = self.repo.partner_share_by_id(s, share_id)
            if share is None or share.owner_id != user_id:
                raise NotFound("No such partner share.")
            share.since = _aware(since)
            users = self.repo.users_by_ids(s, [share.owner_id, share.partner_id])
            return PartnerView(share, users[share.owner_id], users[share.partner_id])

    def end_partner_share(self, principal: Principal, share_id: str) -> None:
        """Either side ends it."""
        user_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            share = self.repo.partner_share_by_id(s, share_id)
            if share is None or user_id not in (share.owner_id, share.partner_id):
                raise NotFound("No such partner share.")
            self.repo.delete_partner_share(s, share)

    def partner_timeline(
        self,
        principal: Principal,
        *,
        cursor: str | None = None,
        limit: int = 100,
        include_mine: bool = True,
    ) -> tuple[list[PartnerItem], str | None]:
        """The caller's timeline merged with those of everyone who shares theirs with the
        caller, newest first; keyset-paginated on (taken_at, id) like the library's own."""
        user_id = require_access(principal, Scope.READ)
        if not 1 <= limit <= PARTNER_TIMELINE_MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {PARTNER_TIMELINE_MAX_PAGE}.")
        before = decode_cursor(cursor) if cursor else None
        with self.db.read() as s:
            sources: list[tuple[str, datetime | None]] = [
                (share.owner_id, share.since) for share in self.repo.partner_shares_to(s, user_id)
            ]
            if include_mine:
                sources.append((user_id, None))
            rows: list[Asset] = []
            # One keyset query per timeline, each seeking its owner's timeline index, merged
            # here: a page needs at most `limit + 1` rows from each.
            for owner_id, since in sources:
                rows.extend(
                    self.media_repo.timeline(
                        s,
                        owner_id,
                        limit=limit + 1,
                        before=before,
                        taken_from=since,
                        taken_to=None,
                        make=None,
                        model=None,
                        favorites_only=False,
                    )
                )
            users = self.repo.users_by_ids(s, [o for o, _ in sources] or [user_id])
        rows.sort(key=lambda a: (a.taken_at, a.id), reverse=True)
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
        self.media.reveal(page)
        self._record_reads(user_id, page, what="timeline", via="partner")
        items = [PartnerItem(a, users[a.owner_id], a.owner_id != user_id) for a in page]
        return items, next_cursor

    def partner_file(
        self, principal: Principal, asset_id: str, kind: str
    ) -> tuple[Asset, BlobRead]:
        """A thumbnail, preview or original of a photo in a timeline shared with the caller."""
        user_id = require_access(principal, Scope.READ)
        _check_kind(kind)
        with self.db.read() as s:
            asset = self.repo.asset_by_id(s, asset_id)
            grant = (
                self.repo.partner_grant(s, asset.owner_id, user_id) if asset is not None else None
            )
        if (
            asset is None
            or grant is None
            or asset.trashed_at is not None
            or (grant.since is not None and asset.taken_at < grant.since)
        ):
            raise NotFound("No such asset.")
        self.media.reveal([asset])
        blob = self.media.shared_file(asset, kind)
        self._record_reads(user_id, [asset], what=kind, via="partner")
        return asset, blob

    # --- helpers -----------------------------------------------------------------------

    def _owned_album(self, s: Session, owner_id: str, album_id: str) -> Album:
        album = self.repo.album_by_id(s, album_id)
        if album is None or album.owner_id != owner_id:
            raise NotFound("No such album.")
        return album

    def _share(self, s: Session, album_id: str, share_id: str) -> AlbumShare:
        share = self.repo.share_in_album(s, album_id, share_id)
        if share is None:
            raise NotFound("No such share.")
        return share

    def _membership(
        self, s: Session, user_id: str, album_id: str
    ) -> tuple[Album, AlbumShare | None]:
        """The album and the caller's share of it (None: the caller owns it). Anyone else
        gets the same 404 as for an album that does not exist."""
        album = self.repo.album_by_id(s, album_id)
        if album is None:
            raise NotFound("No such album.")
        if album.owner_id == user_id:
            return album, None
        share = self.repo.share_for(s, album.id, user_id)
        if share is None:
            raise NotFound("No such album.")
        return album, share

    def _recipient(self, s: Session, owner_id: str, email: str) -> User:
        recipient = self.repo.user_by_email(s, email.strip().lower())
        if recipient is None or recipient.disabled_at is not None:
            raise NotFound("No Keepsake user has this email address.")
        if recipient.id == owner_id:
            raise InvalidInput("You cannot share with yourself.")
        return recipient

    def _end_membership(self, s: Session, album: Album, share: AlbumShare) -> None:
        # The member can no longer manage their photos here, so they go with them: nobody
        # keeps showing a former member's photos to the others.
        theirs = self.repo.album_asset_ids_of_owner(s, album.id, share.recipient_id)
        self.repo.remove_from_album(s, album.id, theirs)
        if album.cover_asset_id in theirs:
            album.cover_asset_id = None
        album.updated_at = self.clock.now()
        self.repo.delete_share(s, share)

    def _faces(self, assets: Sequence[Asset]) -> tuple[dict[str, Sequence[NamedFace]], set[str]]:
        """Named faces per asset, each from the photo's own owner and only with that owner's
        `people_sharing` consent, asked now (so withdrawing hides them from the next request);
        and the owners who consent."""
        by_owner: defaultdict[str, list[str]] = defaultdict(list)
        for asset in assets:
            by_owner[asset.owner_id].append(asset.id)
        faces: dict[str, Sequence[NamedFace]] = {}
        consenting: set[str] = set()
        for owner_id, ids in by_owner.items():
            if not self.ports.consent.allows(owner_id, PEOPLE_SHARING):
                continue
            consenting.add(owner_id)
            named = self.ports.faces.named_faces(owner_id, ids)
            # Whatever the reader returns, only this owner's photos get this owner's names.
            faces.update({a: named[a] for a in ids if named.get(a)})
        return faces, consenting

    def _record_reads(
        self,
        reader_id: str,
        assets: Sequence[Asset],
        *,
        what: str,
        via: str = "album_share",
        album_id: str | None = None,
        album_owner_id: str | None = None,
        people_shown: set[str] | None = None,
    ) -> None:
        """One ledger entry for each owner whose data `reader_id` is about to get (the
        album's owner always, for its name and contents), none for the reader's own."""
        by_owner: defaultdict[str, list[str]] = defaultdict(list)
        if album_owner_id is not None:
            by_owner[album_owner_id] = []
        for asset in assets:
            by_owner[asset.owner_id].append(asset.id)
        by_owner.pop(reader_id, None)
        for owner_id, ids in by_owner.items():
            objects = [album_id, *ids] if album_id else ids
            self.ports.record(
                owner_id,
                user_actor(reader_id),
                SHARE_ACCESSED,
                objects,
                PEOPLE_SHARING if people_shown and owner_id in people_shown else None,
                via=via,
                what=what,
            )


def _role(role: str) -> str:
    try:
        return Role(role).value
    except ValueError:
        raise InvalidInput("role is viewer or contributor.") from None


def _check_kind(kind: str) -> None:
    if kind not in FILE_KINDS:
        raise NotFound()


def _aware(when: datetime | None) -> datetime | None:
    if when is not None and when.tzinfo is None:
        raise InvalidInput("Give times with a UTC offset, for example 2024-01-01T00:00:00Z.")
    return when
