"""The records stages hand each other, declared once for the stage that writes them and
every stage that reads them.

- :mod:`~.manifest`: the columns of ``data/manifest.parquet`` (ingest writes, all read).
- :mod:`~.cache`: ``data/cache/<node>/<split>`` arrays, one cache per node and one for
  the stack (cache writes; train, evaluate, stack and promote read).
- :mod:`~.metrics`: ``metrics/<node>.json`` and ``metrics/stack.json``.
- :mod:`~.comparison`, :mod:`~.promotion`: ``reports/promotion.json`` — the decision,
  the paired comparison and the per-node/class checks (promote writes; report, notify
  and the CLI read).
- :mod:`~.files`: reading a JSON record with errors that name the file, the key and
  the ``dvc repro`` that rewrites it.

Each record is a typed class with ``to_json``/``from_json``; a reader that meets a file
with a missing or renamed key fails naming the file and the key, instead of silently
showing less. Nothing here imports torch, Lightning, MLflow or great-expectations.
"""
