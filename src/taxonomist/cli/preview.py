"""``taxonomist augment-preview``: not a DVC stage; it reads the cache and writes a
picture, so no stale-params check."""

from __future__ import annotations

import argparse
from pathlib import Path

from taxonomist.cli.common import composed, require_node


def add_augment_preview_verb(verbs: argparse._SubParsersAction) -> None:
    preview = verbs.add_parser(
        "augment-preview", help="write a PNG grid of one node's augmented training images"
    )
    preview.add_argument("node", help="an inner node of the taxonomy")
    preview.add_argument("--n", type=int, default=32, help="how many images (default 32)")
    preview.add_argument("--out", type=Path, help="default: reports/augment/NODE.png")
    preview.set_defaults(run=_augment_preview)


def _augment_preview(args: argparse.Namespace) -> None:
    config, paths = composed(args)
    require_node(config, args.node)
    from taxonomist.train.preview import augment_preview

    out = augment_preview(args.node, config, paths, args.n, args.out)
    print(f"{args.node}: augmented training images in {out}")
