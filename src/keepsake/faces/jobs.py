"""The face jobs, by name, and their registration on the queue (in the composition root).
Kept free of heavy imports: the media service names the face job from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keepsake.jobs.queue import HueyJobQueue

if TYPE_CHECKING:
    from keepsake.faces.service import FacesService

INDEX_ASSET_JOB = "faces.index_asset"
INDEX_LIBRARY_JOB = "faces.index_library"
RECLUSTER_JOB = "faces.recluster"
REINDEX_JOB = "faces.reindex"
RECONCILE_JOB = "faces.reconcile"


def register(jobs: HueyJobQueue, faces: FacesService) -> None:
    jobs.register(INDEX_ASSET_JOB, faces.index_asset)
    jobs.register(INDEX_LIBRARY_JOB, faces.index_library)
    jobs.register(RECLUSTER_JOB, faces.recluster)
    jobs.register(REINDEX_JOB, faces.reindex)
    # Picks up what a lost message or a crash left undone, and a change of face model.
    jobs.register_periodic(RECONCILE_JOB, faces.reconcile, minute="7-59/15")
