"""Everything taxonomist says to MLflow, in one package (import-linter keeps it so).

- :mod:`~.names`: every registered-model name and run tag, spelt once.
- :mod:`~.client`: clients, experiments' artifact locations, registering a version.
- :mod:`~.runs`: runs as train, evaluate, stack and sweep log them (:class:`~.runs.RunLog`).
- :mod:`~.logger`: the Lightning logger that buffers values while the server is down.
- :mod:`~.versions`: registered versions: load one as served, tags, descriptions, files.
- :mod:`~.live_alias`: where ``@live`` points, every move of it recorded, rollback.
- :mod:`~.lock`: the promotion lock that works on any MLflow backend.

Importing this package is cheap: each module is imported where it is used, so a stage
that only needs a name does not pay for MLflow or Lightning.
"""
