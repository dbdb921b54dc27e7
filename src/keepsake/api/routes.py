"""Mounts every API router on the app."""

from __future__ import annotations

from fastapi import FastAPI

from keepsake.api import admin, albums, assets, auth, consent, faces, sharing, uploads


def include_all(app: FastAPI) -> None:
    for module in (auth, admin, assets, albums, uploads, consent, faces, sharing):
        app.include_router(module.router)
    app.include_router(consent.pages)  # GET /privacy: public, HTML
