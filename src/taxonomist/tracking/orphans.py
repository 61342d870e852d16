"""Stack versions that no promotion judged: tagged as orphans, so nobody promotes them.

A ``stack`` stage killed after MLflow registered its version (before DVC recorded the
stage) leaves that version behind; the rerun registers a new one, and ``promote`` judges
only the new one. The old one would look like any other candidate in the registry, so
the rerun tags it.
"""

from __future__ import annotations

from mlflow import MlflowClient

from taxonomist.tracking.client import retry_when_locked
from taxonomist.tracking.names import DECISION_TAG, ORPHAN_TAG


@retry_when_locked
def tag_orphans(client: MlflowClient, name: str, newest: str) -> list[str]:
    """Tag every version of ``name`` older than ``newest`` that promote never judged.

    A version holding an alias (``@live``, ...) or already tagged is left alone.

    Returns:
        The versions tagged now, oldest first.
    """
    tagged = []
    for found in client.search_model_versions(f"name='{name}'"):
        judged = DECISION_TAG in found.tags or ORPHAN_TAG in found.tags or found.aliases
        if int(found.version) >= int(newest) or judged:
            continue
        reason = (
            f"superseded by v{newest} before `promote` judged it: the `stack` (or "
            "`promote`) run that registered it was killed or failed; never promoted"
        )
        client.set_model_version_tag(name, found.version, ORPHAN_TAG, reason)
        tagged.append(found.version)
    return sorted(tagged, key=int)
