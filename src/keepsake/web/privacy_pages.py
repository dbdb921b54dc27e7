"""Privacy pages (see routes.py for how pages render and where state changes go)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
