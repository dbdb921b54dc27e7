"""Errors of the faces capability, in Keepsake's one hierarchy (RFC 9457 problems by slug)."""

from __future__ import annotations

from keepsake.errors import Conflict, Forbidden


class FaceRecognitionOff(Forbidden):
    """The owner has not turned face recognition on (the consent switch): nothing about
    faces is computed, stored or shown until they do."""

    slug, title = "face-recognition-off", "Face recognition is off"


class NothingToUndo(Conflict):
    slug, title = "nothing-to-undo", "Nothing to undo"
