"""Errors of the library capability, in the one hierarchy of `keepsake.errors`, so the API
answers each with an RFC 9457 problem of its own stable `type`."""

from __future__ import annotations

from keepsake.errors import InvalidInput


class AlbumOrderMismatch(InvalidInput):
    """A new order for an album that does not name each of its photos exactly once: most
    often the album changed since the client read it (a member added a photo). Read the
    album again and send the order anew."""

    slug, title = "album-order-mismatch", "The order does not match the album's photos"
