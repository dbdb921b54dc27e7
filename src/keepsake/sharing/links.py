"""Public links: an owner makes a link to an album or to a selection of their photos, with an
optional expiry, password (Argon2id, throttled), download permission and metadata hiding; and
whoever holds the link opens it without an account.

A link token carries 256 random bits and is stored only as its SHA-256. Every way a link can
be unusable (never made, expired, revoked, its album deleted) is the same 404, so a holder
learns nothing from it. Every open, view and download is written to the owner's ledger before
anything is handed over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Final, Literal

from sqlalchemy.orm import Session

from keepsake.auth.access import Principal, Scope, require_access
from keepsake.auth.passwords import hash_password, verify_password
from keepsake.auth.throttle import LoginThrottle, ThrottleKeys
from keepsake.clock import Clock
from keepsake.errors import Forbidden, InvalidInput, NotFound
from keepsake.ids import new_id, new_token, token_hash
from keepsake.media.service import BlobRead, MediaService
from keepsake.sharing.errors import LinkNotFound, LinkPasswordRequired, WrongLinkPassword
from keepsake.sharing.ports import LINK_DOWNLOADED, LINK_VIEWED, SharingPorts, link_actor
from keepsake.sharing.repository import SharingRepository
from keepsake.storage.db import Database
from keepsake.storage.models import Album, Asset, ShareLink, ShareLinkSession

# A link session (given for the right password) lasts this long, so a leaked cookie is useful
# for an afternoon at most; the holder types the password again after that.
LINK_SESSION_TTL = timedelta(hours=2)
# A selection link names at most this many photos (a larger set is an album).
LINK_MAX_ASSETS = 1000
# Tokens are `new_token()` values: 43 URL-safe characters. Anything else is not looked up.
LINK_TOKEN_MAX_CHARS = 100

FILE_KINDS = ("thumbnail", "preview", "original")


class LinkState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class LinkInfo:
    """A link as its owner sees it."""

    link: ShareLink
    asset_count: int
    state: str


@dataclass(frozen=True)
class CreatedLink:
    info: LinkInfo
    token: str  # shown once: only its hash is kept


@dataclass(frozen=True)
class OpenedLink:
    """A link as its holder sees it."""

    link: ShareLink
    title: str | None
    assets: list[Asset]


@dataclass(frozen=True)
class LinkSession:
    token: str
    expires_at: datetime


class _Unset(Enum):
    """A field `update` was not asked to change (None means "none")."""

    UNSET = "unset"


UNSET: Final = _Unset.UNSET


class LinkService:
    def __init__(
        self,
        db: Database,
        repo: SharingRepository,
        media: MediaService,
        throttle: LoginThrottle,
        clock: Clock,
        ports: SharingPorts | None = None,
    ) -> None:
        self.db = db
        self.repo = repo
        self.media = media
        self.throttle = throttle
        self.clock = clock
        self.ports = ports or SharingPorts()

    # --- the owner's side --------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        *,
        album_id: str | None = None,
        asset_ids: Sequence[str] | None = None,
        expires_at: datetime | None = None,
        password: str | None = None,
        allow_download: bool = False,
        hide_metadata: bool = True,
        label: str = "",
    ) -> CreatedLink:
        owner_id = require_access(principal, Scope.FULL)
        if (album_id is None) == (not asset_ids):
            raise InvalidInput("A link is to an album (album_id) or to photos (asset_ids).")
        if asset_ids and len(set(asset_ids)) > LINK_MAX_ASSETS:
            raise InvalidInput(f"A link names at most {LINK_MAX_ASSETS} photos; use an album.")
        now = self.clock.now()
        self._check_expiry(expires_at, now)
        _check_download(allow_download, hide_metadata)
        password_hash = hash_password(password) if password else None
        token = new_token()
        link = ShareLink(
            id=new_id(),
            owner_id=owner_id,
            album_id=album_id,
            token_hash=token_hash(token),
            label=label.strip(),
            password_hash=password_hash,
            allow_download=allow_download,
            hide_metadata=hide_metadata,
            view_count=0,
            created_at=now,
            expires_at=expires_at,
        )
        with self.db.write() as s:
            if album_id is not None:
                album = self.repo.album_by_id(s, album_id)
                if album is None or album.owner_id != owner_id:
                    raise NotFound("No such album.")
            selected = list(dict.fromkeys(asset_ids or []))
            owned = {a.id for a in self.repo.untrashed_assets_of(s, owner_id, selected)}
            missing = [a for a in selected if a not in owned]
            if missing:
                raise NotFound(f"No such asset: {missing[0]}")
            self.repo.add_link(s, link, selected)
            count = self.repo.link_asset_count(s, link)
        return CreatedLink(LinkInfo(link, count, self._state(link)), token)

    def links(self, principal: Principal, album_id: str | None = None) -> list[LinkInfo]:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            links = self.repo.links_of(s, owner_id, album_id)
            return [LinkInfo(x, self.repo.link_asset_count(s, x), self._state(x)) for x in links]

    def link(self, principal: Principal, link_id: str) -> LinkInfo:
        owner_id = require_access(principal, Scope.READ)
        with self.db.read() as s:
            link = self._owned(s, owner_id, link_id)
            return LinkInfo(link, self.repo.link_asset_count(s, link), self._state(link))

    def update(
        self,
        principal: Principal,
        link_id: str,
        *,
        expires_at: datetime | Literal[_Unset.UNSET] | None = UNSET,
        password: str | Literal[_Unset.UNSET] | None = UNSET,
        allow_download: bool | None = None,
        hide_metadata: bool | None = None,
        label: str | None = None,
    ) -> LinkInfo:
        """Change what a link allows. A new password (or none) ends every link session, so
        whoever unlocked it with the old one has to ask again."""
        owner_id = require_access(principal, Scope.FULL)
        now = self.clock.now()
        # Hashed before the write transaction: Argon2 takes a while and needs no lock.
        new_hash: str | Literal[_Unset.UNSET] | None = UNSET
        if password is not UNSET:
            new_hash = hash_password(password) if password else None
        with self.db.write() as s:
            link = self._owned(s, owner_id, link_id)
            if link.revoked_at is not None:
                raise InvalidInput("A revoked link stays revoked; make a new one.")
            if expires_at is not UNSET:
                self._check_expiry(expires_at, now)
                link.expires_at = expires_at
            if allow_download is not None:
                link.allow_download = allow_download
            if hide_metadata is not None:
                link.hide_metadata = hide_metadata
            _check_download(link.allow_download, link.hide_metadata)
            if label is not None:
                link.label = label.strip()
            if new_hash is not UNSET:
                link.password_hash = new_hash
                self.repo.delete_link_sessions(s, link.id)
            return LinkInfo(link, self.repo.link_asset_count(s, link), self._state(link))

    def revoke(self, principal: Principal, link_id: str) -> None:
        """From the next request on the link is a 404, like one that never existed."""
        owner_id = require_access(principal, Scope.FULL)
        with self.db.write() as s:
            link = self._owned(s, owner_id, link_id)
            if link.revoked_at is None:
                link.revoked_at = self.clock.now()
            self.repo.delete_link_sessions(s, link.id)

    # --- the holder's side (no account) ------------------------------------------------

    def open(self, token: str, session: str | None) -> OpenedLink:
        """What the link shows; counts a view and records it in the owner's ledger."""
        link = self._usable(token, session)
        now = self.clock.now()
        with self.db.write() as s:
            self.repo.count_view(s, link.id, now)
        with self.db.read() as s:
            album: Album | None = self.repo.album_by_id(s, link.album_id) if link.album_id else None
            assets = self.repo.link_assets(s, link)
        self.media.reveal(assets)
        album_ids = [link.album_id] if link.album_id else []
        self.ports.record(
            link.owner_id,
            link_actor(link.id),
            LINK_VIEWED,
            [*album_ids, *(a.id for a in assets)],
            what="link",
        )
        return OpenedLink(link, album.name if album else None, assets)

    def needs_password(self, token: str) -> bool:
        """Whether a live link asks for a password (else the one 404). Counts no view and
        records nothing: the link's web page asks it to know what to show first."""
        return self._live(token).password_hash is not None

    def unlock(self, token: str, password: str, ip: str | None) -> LinkSession:
        """Exchange the link's password for a short-lived link session. Throttled per link
        and per client address like a login: exponential back-off, never a lock-out."""
        link = self._live(token)
        if link.password_hash is None:
            raise InvalidInput("This link has no password.")
        keys = ThrottleKeys(
            token_hash("share-link:" + link.id),
            token_hash("share-link-address:" + ip) if ip else None,
        )
        self.throttle.check(keys)
        if not verify_password(link.password_hash, password):
            self.throttle.failure(keys)
            raise WrongLinkPassword("That is not the password of this link.")
        self.throttle.success(keys)
        now = self.clock.now()
        session_token = new_token()
        expires_at = now + LINK_SESSION_TTL
        if link.expires_at is not None:
            expires_at = min(expires_at, link.expires_at)
        with self.db.write() as s:
            self.repo.delete_link_sessions(s, link.id, expired_before=now)
            self.repo.add_link_session(
                s,
                ShareLinkSession(
                    id=new_id(),
                    link_id=link.id,
                    token_hash=token_hash(session_token),
                    created_at=now,
                    expires_at=expires_at,
                ),
            )
        return LinkSession(session_token, expires_at)

    def file(
        self, token: str, session: str | None, asset_id: str, kind: str
    ) -> tuple[Asset, BlobRead]:
        """A thumbnail or preview of a photo of the link; the original only where the link
        allows downloads (never where it hides metadata: an original carries its EXIF)."""
        link = self._usable(token, session)
        if kind not in FILE_KINDS:
            raise LinkNotFound()
        with self.db.read() as s:
            asset = self.repo.link_asset(s, link, asset_id)
        if asset is None:
            raise LinkNotFound()
        if kind == "original" and not (link.allow_download and not link.hide_metadata):
            raise Forbidden("This link shows photos but does not offer their originals.")
        self.media.reveal([asset])
        blob = self.media.shared_file(asset, kind)
        action = LINK_DOWNLOADED if kind == "original" else LINK_VIEWED
        self.ports.record(link.owner_id, link_actor(link.id), action, [asset.id], what=kind)
        return asset, blob

    # --- helpers -----------------------------------------------------------------------

    def _live(self, token: str) -> ShareLink:
        """The link, if it exists, is not revoked and has not expired; else the one 404."""
        if not token or len(token) > LINK_TOKEN_MAX_CHARS:
            raise LinkNotFound()
        with self.db.read() as s:
            link = self.repo.link_by_token(s, token_hash(token))
        if link is None or self._state(link) != LinkState.ACTIVE:
            raise LinkNotFound()
        return link

    def _usable(self, token: str, session: str | None) -> ShareLink:
        """`_live`, and unlocked if it has a password."""
        link = self._live(token)
        if link.password_hash is None:
            return link
        if session and len(session) <= LINK_TOKEN_MAX_CHARS:
            with self.db.read() as s:
                row = self.repo.link_session(s, token_hash(session))
            if row is not None and row.link_id == link.id and row.expires_at > self.clock.now():
                return link
        raise LinkPasswordRequired("This link has a password: unlock it first.")

    def _owned(self, s: Session, owner_id: str, link_id: str) -> ShareLink:
        link = self.repo.link_of(s, owner_id, link_id)
        if link is None:
            raise NotFound("No such link.")
        return link

    def _state(self, link: ShareLink) -> str:
        if link.revoked_at is not None:
            return LinkState.REVOKED
        if link.expires_at is not None and link.expires_at <= self.clock.now():
            return LinkState.EXPIRED
        return LinkState.ACTIVE

    def _check_expiry(self, expires_at: datetime | None, now: datetime) -> None:
        if expires_at is None:
            return
        if expires_at.tzinfo is None:
            raise InvalidInput("Give expires_at with a UTC offset, e.g. 2026-06-01T00:00:00Z.")
        if expires_at <= now:
            raise InvalidInput("expires_at is in the past.")


def _check_download(allow_download: bool, hide_metadata: bool) -> None:
    if allow_download and hide_metadata:
        raise InvalidInput(
            "A link that hides metadata cannot offer originals: an original keeps its EXIF, "
            "GPS position and camera included. Turn off hide_metadata to allow downloads."
        )
