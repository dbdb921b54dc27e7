"""SQL for album shares, public links and their sessions, partner shares, and the read-only
look-ups sharing makes into albums, assets, users and named faces."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from keepsake.media.repository import add_at_the_end, album_order_by
from keepsake.media.schemas import AlbumOrder
from keepsake.storage.models import (
    Album,
    AlbumAsset,
    AlbumShare,
    Asset,
    Face,
    PartnerShare,
    Person,
    ShareLink,
    ShareLinkAsset,
    ShareLinkSession,
    User,
)


class SharingRepository:
    # --- users -------------------------------------------------------------------------

    def user_by_email(self, s: Session, email: str) -> User | None:
        return s.scalar(select(User).where(User.email == email))

    def users_by_ids(self, s: Session, user_ids: Sequence[str]) -> dict[str, User]:
        if not user_ids:
            return {}
        return {u.id: u for u in s.scalars(select(User).where(User.id.in_(set(user_ids))))}

    # --- albums and their assets, as members see them ----------------------------------

    def album_by_id(self, s: Session, album_id: str) -> Album | None:
        """Unscoped: the service decides from the owner and the shares who may see it."""
        return s.get(Album, album_id)

    def album_assets(self, s: Session, album: Album) -> list[Asset]:
        """Every owner's assets in the album, in the album's order, not those in a trash."""
        return list(
            s.scalars(
                select(Asset)
                .join(AlbumAsset, AlbumAsset.asset_id == Asset.id)
                .where(AlbumAsset.album_id == album.id, Asset.trashed_at.is_(None))
                .order_by(*album_order_by(album.sort_order))
            )
        )

    def album_asset(self, s: Session, album_id: str, asset_id: str) -> Asset | None:
        return s.scalar(
            select(Asset)
            .join(AlbumAsset, AlbumAsset.asset_id == Asset.id)
            .where(
                AlbumAsset.album_id == album_id,
                Asset.id == asset_id,
                Asset.trashed_at.is_(None),
            )
        )

    def album_asset_owners(
        self, s: Session, album_id: str, asset_ids: Sequence[str]
    ) -> dict[str, str]:
        """asset id -> owner id, for those of `asset_ids` in the album (trashed or not)."""
        if not asset_ids:
            return {}
        rows = s.execute(
            select(Asset.id, Asset.owner_id)
            .join(AlbumAsset, AlbumAsset.asset_id == Asset.id)
            .where(AlbumAsset.album_id == album_id, Asset.id.in_(set(asset_ids)))
        )
        return {asset_id: owner_id for asset_id, owner_id in rows}

    def untrashed_assets_of(
        self, s: Session, owner_id: str, asset_ids: Sequence[str]
    ) -> list[Asset]:
        if not asset_ids:
            return []
        return list(
            s.scalars(
                select(Asset).where(
                    Asset.owner_id == owner_id,
                    Asset.id.in_(set(asset_ids)),
                    Asset.trashed_at.is_(None),
                )
            )
        )

    def add_to_album(
        self, s: Session, album_id: str, asset_ids: Sequence[str], when: datetime
    ) -> int:
        present = set(
            s.scalars(
                select(AlbumAsset.asset_id).where(
                    AlbumAsset.album_id == album_id, AlbumAsset.asset_id.in_(set(asset_ids))
                )
            )
        )
        new = [a for a in dict.fromkeys(asset_ids) if a not in present]
        s.add_all(add_at_the_end(s, album_id, new, when))
        return len(new)

    def remove_from_album(self, s: Session, album_id: str, asset_ids: Sequence[str]) -> int:
        if not asset_ids:
            return 0
        result = s.execute(
            delete(AlbumAsset).where(
                AlbumAsset.album_id == album_id, AlbumAsset.asset_id.in_(set(asset_ids))
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def album_asset_ids_of_owner(self, s: Session, album_id: str, owner_id: str) -> list[str]:
        """The ids of one user's assets in the album, trashed ones included."""
        return list(
            s.scalars(
                select(AlbumAsset.asset_id)
                .join(Asset, Asset.id == AlbumAsset.asset_id)
                .where(AlbumAsset.album_id == album_id, Asset.owner_id == owner_id)
            )
        )

    # --- album shares ------------------------------------------------------------------

    def add_share(self, s: Session, share: AlbumShare) -> None:
        s.add(share)
        s.flush()

    def share_for(self, s: Session, album_id: str, recipient_id: str) -> AlbumShare | None:
        return s.scalar(
            select(AlbumShare).where(
                AlbumShare.album_id == album_id, AlbumShare.recipient_id == recipient_id
            )
        )

    def share_in_album(self, s: Session, album_id: str, share_id: str) -> AlbumShare | None:
        return s.scalar(
            select(AlbumShare).where(AlbumShare.album_id == album_id, AlbumShare.id == share_id)
        )

    def shares_of_album(self, s: Session, album_id: str) -> list[tuple[AlbumShare, User]]:
        rows = s.execute(
            select(AlbumShare, User)
            .join(User, User.id == AlbumShare.recipient_id)
            .where(AlbumShare.album_id == album_id)
            .order_by(AlbumShare.created_at, AlbumShare.id)
        )
        return [(share, user) for share, user in rows]

    def delete_share(self, s: Session, share: AlbumShare) -> None:
        s.delete(share)

    def albums_shared_with(
        self, s: Session, recipient_id: str
    ) -> list[tuple[Album, AlbumShare, User, int]]:
        """(album, the recipient's share, the album's owner, photos in it) newest first."""
        counts = (
            select(AlbumAsset.album_id, func.count().label("n"))
            .join(Asset, Asset.id == AlbumAsset.asset_id)
            .where(Asset.trashed_at.is_(None))
            .group_by(AlbumAsset.album_id)
            .subquery()
        )
        rows = s.execute(
            select(Album, AlbumShare, User, func.coalesce(counts.c.n, 0))
            .join(AlbumShare, AlbumShare.album_id == Album.id)
            .join(User, User.id == Album.owner_id)
            .outerjoin(counts, counts.c.album_id == Album.id)
            .where(AlbumShare.recipient_id == recipient_id)
            .order_by(Album.updated_at.desc(), Album.id)
        )
        return [(album, share, owner, int(n)) for album, share, owner, n in rows]

    # --- public links ------------------------------------------------------------------

    def add_link(self, s: Session, link: ShareLink, asset_ids: Sequence[str]) -> None:
        s.add(link)
        s.flush()
        s.add_all(ShareLinkAsset(link_id=link.id, asset_id=a) for a in dict.fromkeys(asset_ids))

    def link_of(self, s: Session, owner_id: str, link_id: str) -> ShareLink | None:
        return s.scalar(
            select(ShareLink).where(ShareLink.id == link_id, ShareLink.owner_id == owner_id)
        )

    def links_of(self, s: Session, owner_id: str, album_id: str | None) -> list[ShareLink]:
        query = select(ShareLink).where(ShareLink.owner_id == owner_id)
        if album_id is not None:
            query = query.where(ShareLink.album_id == album_id)
        return list(s.scalars(query.order_by(ShareLink.created_at.desc(), ShareLink.id)))

    def link_by_token(self, s: Session, token_hash: str) -> ShareLink | None:
        """The link with this token hash, unless its owner's account is disabled: an
        administrator suspending an account also stops what it published."""
        return s.scalar(
            select(ShareLink)
            .join(User, User.id == ShareLink.owner_id)
            .where(ShareLink.token_hash == token_hash, User.disabled_at.is_(None))
        )

    def _link_assets_query(self, link: ShareLink) -> Select[Asset]:
        # Only the link owner's own photos: an album link never publishes what a contributor
        # added, since contributors shared with the album's members, not with the public.
        query = select(Asset).where(Asset.owner_id == link.owner_id, Asset.trashed_at.is_(None))
        if link.album_id is not None:
            return query.join(AlbumAsset, AlbumAsset.asset_id == Asset.id).where(
                AlbumAsset.album_id == link.album_id
            )
        return query.join(ShareLinkAsset, ShareLinkAsset.asset_id == Asset.id).where(
            ShareLinkAsset.link_id == link.id
        )

    def link_assets(self, s: Session, link: ShareLink) -> list[Asset]:
        """The link's photos; a link to an album lists them in the album's order."""
        query = self._link_assets_query(link)
        album = s.get(Album, link.album_id) if link.album_id is not None else None
        order = album.sort_order if album else AlbumOrder.NEWEST_FIRST
        return list(s.scalars(query.order_by(*album_order_by(order))))

    def link_asset(self, s: Session, link: ShareLink, asset_id: str) -> Asset | None:
        return s.scalar(self._link_assets_query(link).where(Asset.id == asset_id))

    def link_asset_count(self, s: Session, link: ShareLink) -> int:
        subquery = self._link_assets_query(link).subquery()
        return int(s.scalar(select(func.count()).select_from(subquery)) or 0)

    def count_view(self, s: Session, link_id: str, when: datetime) -> None:
        s.execute(
            update(ShareLink)
            .where(ShareLink.id == link_id)
            .values(view_count=ShareLink.view_count + 1, last_viewed_at=when)
        )

    def add_link_session(self, s: Session, session: ShareLinkSession) -> None:
        s.add(session)

    def link_session(self, s: Session, token_hash: str) -> ShareLinkSession | None:
        return s.scalar(select(ShareLinkSession).where(ShareLinkSession.token_hash == token_hash))

    def delete_link_sessions(
        self, s: Session, link_id: str, *, expired_before: datetime | None = None
    ) -> None:
        query = delete(ShareLinkSession).where(ShareLinkSession.link_id == link_id)
        if expired_before is not None:
            query = query.where(ShareLinkSession.expires_at <= expired_before)
        s.execute(query)

    # --- partner shares ----------------------------------------------------------------

    def add_partner_share(self, s: Session, share: PartnerShare) -> None:
        s.add(share)
        s.flush()

    def partner_share_of(self, s: Session, owner_id: str) -> PartnerShare | None:
        return s.scalar(select(PartnerShare).where(PartnerShare.owner_id == owner_id))

    def partner_share_by_id(self, s: Session, share_id: str) -> PartnerShare | None:
        return s.get(PartnerShare, share_id)

    def partner_shares_to(self, s: Session, partner_id: str) -> list[PartnerShare]:
        return list(
            s.scalars(
                select(PartnerShare)
                .where(PartnerShare.partner_id == partner_id)
                .order_by(PartnerShare.created_at, PartnerShare.id)
            )
        )

    def partner_grant(self, s: Session, owner_id: str, partner_id: str) -> PartnerShare | None:
        return s.scalar(
            select(PartnerShare).where(
                PartnerShare.owner_id == owner_id, PartnerShare.partner_id == partner_id
            )
        )

    def delete_partner_share(self, s: Session, share: PartnerShare) -> None:
        s.delete(share)

    def asset_by_id(self, s: Session, asset_id: str) -> Asset | None:
        """Unscoped: the service checks the partner grant of the asset's owner."""
        return s.get(Asset, asset_id)

    # --- named faces (read only; the faces capability writes them) ---------------------

    def named_faces(
        self, s: Session, owner_id: str, asset_ids: Sequence[str]
    ) -> list[tuple[str, str, float, float, float, float, int | None, int | None]]:
        """(asset id, person name, x1, y1, x2, y2, photo width, photo height) of the owner's
        faces that belong to a named person the owner has not hidden. Only these columns are
        read: templates and landmarks never leave the faces tables through here."""
        if not asset_ids:
            return []
        rows = s.execute(
            select(
                Face.asset_id,
                Person.name,
                Face.x1,
                Face.y1,
                Face.x2,
                Face.y2,
                Asset.width,
                Asset.height,
            )
            .join(Person, Person.id == Face.person_id)
            .join(Asset, Asset.id == Face.asset_id)
            .where(
                Face.owner_id == owner_id,
                Person.owner_id == owner_id,
                Asset.owner_id == owner_id,
                Face.asset_id.in_(set(asset_ids)),
                Person.name.is_not(None),
                Person.name != "",
                Person.is_hidden.is_(False),
            )
            .order_by(Face.asset_id, Face.x1, Face.id)
        )
        return [
            (asset_id, name or "", x1, y1, x2, y2, width, height)
            for asset_id, name, x1, y1, x2, y2, width, height in rows
        ]
