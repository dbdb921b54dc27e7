"""Errors of the consent capability, in the one hierarchy of `keepsake.errors`, so the API
answers each with an RFC 9457 problem of its own stable `type`."""

from __future__ import annotations

from keepsake.errors import Conflict, Forbidden, InvalidInput


class ConsentRequired(Forbidden):
    """The owner has not consented (to the current text) to the purpose this work needs."""

    slug, title = "consent-required", "Consent required"


class ConsentTextChanged(Conflict):
    """The client accepted a version of a purpose's text that is no longer the current one."""

    slug, title = "consent-text-changed", "The text of this purpose has changed"


class HostileArchive(InvalidInput):
    """An archive that tries to escape its folder, link elsewhere or exhaust the disk."""

    slug, title = "hostile-archive", "The archive is unsafe"


class InvalidArchive(InvalidInput):
    """Not a Keepsake takeout, or one that was damaged (a checksum does not match)."""

    slug, title = "invalid-archive", "The archive is not a valid Keepsake takeout"


class DeletionPending(Conflict):
    slug, title = "deletion-pending", "The account is being deleted"
