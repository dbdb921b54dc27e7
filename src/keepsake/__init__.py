"""Keepsake: a self-hosted photo library and backup with consented face recognition."""

__version__ = "0.1.0"
