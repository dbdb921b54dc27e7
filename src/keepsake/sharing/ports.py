"""What sharing needs from other capabilities, as small interfaces with safe stand-ins: the
owner's consent (`ConsentService.allows`), the owner's data-use ledger (`Ledger.record`) and
the names the owner gave to faces in their photos.

The composition root hands the real ones in (`SharingPorts`); until it does, the stand-ins
show no face data to anyone and record nothing, which is the safe way to be incomplete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Consent purpose under which an owner's names and face boxes are shown to people they share
# with (keepsake.consent.purposes.PurposeName.PEOPLE_SHARING).
PEOPLE_SHARING = "people_sharing"

# Ledger actions, as keepsake.consent.ledger.Action declares them (the ledger refuses an
# action it does not declare: each one is explained on the privacy page).
SHARE_ACCESSED = "share.accessed"  # a user the owner shared with read something
LINK_VIEWED = "link.viewed"  # a link was opened, or a thumbnail or preview read through it
LINK_DOWNLOADED = "link.downloaded"  # an original was downloaded through a link

# A ledger entry names at most this many objects (keepsake.consent.ledger.MAX_OBJECT_IDS);
# longer listings name the first ones and give the count.
LEDGER_MAX_OBJECT_IDS = 1000

DetailValue = str | int | bool | None


def user_actor(user_id: str) -> str:
    """Same form as keepsake.consent.ledger.user_actor."""
    return f"user:{user_id}"


def link_actor(link_id: str) -> str:
    """Whoever holds a link: anonymous, so the entry names the link."""
    return f"link:{link_id}"


class ConsentPolicy(Protocol):
    def allows(self, owner_id: str, purpose: str) -> bool: ...


class LedgerSink(Protocol):
    def record(
        self,
        owner_id: str,
        actor: str,
        action: str,
        purpose: str | None = None,
        object_ids: Sequence[str] = (),
        detail: Mapping[str, DetailValue] | None = None,
    ) -> object: ...


@dataclass(frozen=True)
class NamedFace:
    """A face the owner put a name to, as fractions (0..1) of the photo as displayed: left and
    top edges, width and height. Never a template, a landmark or a person id."""

    name: str
    left: float
    top: float
    width: float
    height: float


class FaceNames(Protocol):
    def named_faces(
        self, owner_id: str, asset_ids: Sequence[str]
    ) -> Mapping[str, Sequence[NamedFace]]:
        """The named, not hidden, faces in these assets of the owner, by asset id."""
        ...


class NoConsent:
    """No consent service: nothing that needs consent is allowed."""

    def allows(self, owner_id: str, purpose: str) -> bool:
        return False


class NoLedger:
    """No ledger yet: shared access is not recorded anywhere."""

    def record(
        self,
        owner_id: str,
        actor: str,
        action: str,
        purpose: str | None = None,
        object_ids: Sequence[str] = (),
        detail: Mapping[str, DetailValue] | None = None,
    ) -> object:
        return None


class NoFaceNames:
    """No face data: shared albums show no people."""

    def named_faces(
        self, owner_id: str, asset_ids: Sequence[str]
    ) -> Mapping[str, Sequence[NamedFace]]:
        return {}


@dataclass(frozen=True)
class SharingPorts:
    consent: ConsentPolicy = field(default_factory=NoConsent)
    ledger: LedgerSink = field(default_factory=NoLedger)
    faces: FaceNames = field(default_factory=NoFaceNames)

    def record(
        self,
        owner_id: str,
        actor: str,
        action: str,
        object_ids: Sequence[str],
        purpose: str | None = None,
        **detail: DetailValue,
    ) -> None:
        """One ledger entry; more object ids than an entry holds are counted, not listed.
        Called before the data is handed over, so a failing ledger fails the request."""
        ids = list(dict.fromkeys(object_ids))
        if len(ids) > LEDGER_MAX_OBJECT_IDS:
            detail["objects"] = len(ids)
            ids = ids[:LEDGER_MAX_OBJECT_IDS]
        self.ledger.record(owner_id, actor, action, purpose, ids, detail or None)
