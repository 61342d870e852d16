"""``taxonomist label export`` for a project: a new batch of one node's images to label, or
new image URLs for a batch already out, read from the project's config.

The batch itself (what is picked, what is written) is :mod:`taxonomist.labels.batch`; this
module finds its inputs: the manifest, the source the URLs point into and, for
``uncertain``, the live stack's confidence.
"""

from __future__ import annotations

from functools import partial

from taxonomist.config import Config, Paths
from taxonomist.data import create_source
from taxonomist.data.manifest import read_manifest
from taxonomist.labels.batch import Batch, Pick, export_batch, write_links
from taxonomist.labels.live import node_confidence, require_live


def export_node(config: Config, paths: Paths, node: str, n: int, strategy: Pick) -> Batch:
    """Write a batch of ``n`` images of ``node`` under ``labels/batches/``.

    Args:
        config: the project's composed config.
        paths: the project's files.
        node: an inner node of the taxonomy (checked by the caller).
        n: how many images at most.
        strategy: how they are picked; ``uncertain`` ranks them by the live stack.

    Returns:
        The batch written.

    Raises:
        DataError: ``uncertain`` with no stack holding @live (before anything is written),
            or no image of ``node`` left to ask about.
    """
    confidence = ranked_by = None
    if strategy is Pick.uncertain:
        stack = require_live(config.project.mlflow, config.taxonomy.name, paths,
                             "--strategy uncertain")
        confidence = partial(node_confidence, stack, node=node, root=paths.root)
        ranked_by = stack.title
    return export_batch(read_manifest(paths.manifest), node, n, strategy, config.taxonomy,
                        create_source(config.project.data, paths.root), paths.label_batches,
                        config.project.crowd.url_ttl_s, config.project.seed, confidence,
                        ranked_by)


def refresh_batch(config: Config, paths: Paths, batch_id: str) -> Batch:
    """New image URLs (presigned again for S3) for the exported batch ``batch_id``.

    Raises:
        DataError: no batch of that name under ``labels/batches/``, named as ``--refresh``.
    """
    batch = Batch.read(paths.label_batches, batch_id, "--refresh")
    source = create_source(config.project.data, paths.root)
    write_links(batch, batch.tasks(paths.label_batches), source, paths.label_batches)
    return batch
