"""Sharing: albums shared with other users (viewers and contributors), public links to an album
or a selection of photos, and a whole timeline shared with one partner."""
