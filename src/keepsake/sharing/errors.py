"""Errors of the sharing capability, in the one hierarchy of `keepsake.errors`, so the API
answers each with an RFC 9457 problem of its own stable `type`."""

from __future__ import annotations

from keepsake.errors import Forbidden, NotFound, Unauthorized

# Every way a link can be unusable (never made, expired, revoked, its album deleted, a photo
# not in it) answers with exactly this, so a holder learns nothing about which it was.
LINK_NOT_FOUND_DETAIL = "No such link."


class LinkNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(LINK_NOT_FOUND_DETAIL)


class LinkPasswordRequired(Unauthorized):
    """The link has a password: unlock it (POST .../unlock) or send the link session."""

    slug, title = "link-password-required", "This link needs a password"


class WrongLinkPassword(Unauthorized):
    slug, title = "wrong-link-password", "Wrong password for this link"


class NotContributor(Forbidden):
    """A member of a shared album tried a change their role does not allow."""

    slug, title = "not-contributor", "Your role in this album does not allow this"
