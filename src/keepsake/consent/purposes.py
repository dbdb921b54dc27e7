"""The purposes a user can consent to, each with the plain-language text they accept.

Purposes and their texts live in code so that the API, the privacy page and docs/privacy.md
show the same words; migrations copy each version into the `consent_purposes` table, so a
new purpose or a changed text needs a migration (a test checks the two agree). Consent is
given to one version of a text: when the text changes, the version goes up and consent to
the old one no longer counts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from keepsake.errors import NotFound


class PurposeName(StrEnum):
    FACE_RECOGNITION = "face_recognition"
    PEOPLE_SHARING = "people_sharing"
    VERIFICATION_ENROLLMENT = "verification_enrollment"


@dataclass(frozen=True)
class Purpose:
    name: PurposeName
    version: int
    title: str
    text: str
    # Processing for a biometric purpose makes face templates: retention applies to them.
    biometric: bool


PURPOSES: dict[PurposeName, Purpose] = {
    p.name: p
    for p in (
        Purpose(
            PurposeName.FACE_RECOGNITION,
            1,
            "Find and group faces in my own library",
            "Keepsake looks for faces in your photos and, for each face it finds, computes a "
            "face template: a list of numbers describing the face. Templates are compared only "
            "with other templates from your own library, to group photos of the same person "
            "and to let you search for them. They are encrypted with your key, never shared, "
            "never used for anyone else, never used to train anything, and never used to guess "
            "anyone's age, gender, emotion or ethnicity. You can withdraw at any time: all your "
            "face templates and face groups are then deleted at once. If your account is "
            "inactive for the period stated on the privacy page, the templates are deleted.",
            biometric=True,
        ),
        Purpose(
            PurposeName.PEOPLE_SHARING,
            1,
            "Show who is in the photos I share",
            "When you share an album, the people you share it with may see the names you gave "
            "to people in those photos and where their faces are. Nothing is shown to anyone "
            "you have not shared with. If you withdraw, the names and face regions are hidden "
            "from everyone you share with, at once.",
            biometric=False,
        ),
        Purpose(
            PurposeName.VERIFICATION_ENROLLMENT,
            1,
            "Enrol my face for identity verification",
            "An organisation using Keepsake's verification service may keep one face template "
            "of you, made from photos you provide for this purpose only, to confirm who you are "
            "(for example at a door or when you sign in). Photos in your library are never used "
            "for enrolment. If you withdraw, your enrolment template is deleted at once.",
            biometric=True,
        ),
    )
}


def purpose_named(name: str) -> Purpose:
    """The current version of a purpose, or a 404 naming the purposes that exist."""
    try:
        return PURPOSES[PurposeName(name)]
    except ValueError:
        known = ", ".join(PURPOSES)
        raise NotFound(f"No purpose '{name}'; the purposes are: {known}.") from None


BIOMETRIC_PURPOSES = tuple(p.name for p in PURPOSES.values() if p.biometric)
