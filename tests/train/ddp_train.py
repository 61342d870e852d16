"""Train one node the way ``taxonomist train`` does, for tests/train/test_ddp.py.

Usage: ``python tests/train/ddp_train.py PROJECT RESULT.json [OVERRIDE ...]``

Lightning's ``ddp`` strategy starts every other rank by running this same command again
(it re-executes ``sys.argv``), which is why this is a real file with a ``__main__`` guard
and does nothing a second run could not repeat. Only rank 0 writes ``RESULT.json``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from taxonomist.config import Paths, compose_config
from taxonomist.train.fit import train_node


def main(project: Path, result: Path, overrides: list[str]) -> None:
    os.chdir(project)
    trained = train_node("round", compose_config(project / "conf", overrides), Paths(project))
    if trained.run_id:  # rank 0: the others return an empty result
        result.write_text(json.dumps(asdict(trained)))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
