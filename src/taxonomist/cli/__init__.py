"""``taxonomist <verb>``: parse the command line, compose the config, call one function.

The verbs live in modules of their own (:mod:`~taxonomist.cli.stages` for the DVC stages,
then ``pipeline``, ``registry``, ``labels``, ``sweep``, ``repro``, ``serve`` and
``preview``); :mod:`~taxonomist.cli.app` puts them on one parser. Nothing here decides
anything a stage, the pipeline or the labelling loop could decide for itself.
"""

from taxonomist.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
