"""Ingest, hashing, EXIF, thumbnails, the timeline, albums and the trash."""
