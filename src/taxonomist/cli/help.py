"""What ``taxonomist --help`` and ``taxonomist VERB --help`` say: for a newcomer to act on.

Each verb gets a description (what it does, and whether ``dvc repro`` runs it for you)
and an example; :func:`document` puts them on the parser :mod:`taxonomist.cli.app`
builds. A verb without an entry here keeps what its module gave it, and the tests say it
lacks one.
"""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass

DESCRIPTION = (
    "Declarative MLOps for hierarchical image classification: edit the YAML in conf/ (a "
    "taxonomy and one classifier definition per inner node), and `dvc repro` ingests and "
    "checks the images, trains one classifier per node, tests the whole stack and promotes "
    "it in the MLflow registry only when it beats the live one."
)
EPILOG = """\
first steps, in the project folder:
  make run                  the whole pipeline on the bundled sample (= dvc repro)
  dvc metrics show          per-node and stack headline metrics
  make ui                   the MLflow UI: runs, the registry, @live and the model card

then the daily loop:
  $EDITOR conf/classifiers/round.yaml && taxonomist pipeline && dvc repro

`dvc repro` runs these verbs for you, each as one stage of dvc.yaml:
{staged}.
Run them by hand only to redo one stage. Any folder inside the project works, or
--config-dir PROJECT/conf from anywhere.
"""
WIDTH = 88  # the descriptions' line length; the epilogs are laid out by hand
BY_DVC = "`dvc repro` runs it for you (stage {stage} of dvc.yaml)."


@dataclass(frozen=True)
class VerbHelp:
    """The words for one verb: what it does, and one command that uses it.

    Attributes:
        description: what it does; "" keeps the description its module gave the verb.
        example: a command a newcomer can type as it is.
        stage: its dvc.yaml stage, when `dvc repro` runs it.
    """

    description: str
    example: str
    stage: str | None = None

    def text(self, given: str | None) -> str:
        by_dvc = f" {BY_DVC.format(stage=self.stage)}" if self.stage else ""
        return (self.description or given or "") + by_dvc


VERBS = {
    "pipeline": VerbHelp(
        "Write params.yaml, params/<node>.json and dvc.yaml from conf/ (with the overrides "
        "recorded in conf/overrides.yaml). Run it after every edit of conf/, then `dvc repro`.",
        "taxonomist pipeline classifiers.round.epochs=12"),
    "sample": VerbHelp("Write scikit-learn's handwritten digits as PNGs and a manifest.",
                       "taxonomist sample", "sample"),
    "ingest": VerbHelp(
        "Read the source (folder, S3 or sample), store each image by its sha256 and write "
        "data/manifest.parquet; unreadable, duplicate or unknown-label files go to "
        "data/rejects.csv.", "taxonomist ingest", "ingest"),
    "detect": VerbHelp(
        "With detect.enabled: run the torchvision detector of detect.model over the images "
        "in use; boxes and scores go to data/detections.parquet (the cache crops to them), "
        "images with no box to reports/detect/review.csv or to the class detect.no_box.",
        "taxonomist detect", "detect"),
    "split": VerbHelp(
        "Split into train/val/test, keeping each set_id whole and the test split frozen.",
        "taxonomist split", "split"),
    "validate": VerbHelp(
        "Check the manifest and splits (great-expectations): errors stop the run, "
        "warnings do not. Writes reports/data/validation.json and the Data Docs "
        "(reports/data/docs/index.html).", "taxonomist validate", "validate"),
    "cache": VerbHelp("Decode and resize each node's images once, at its image_size, into "
                      "uint8 arrays in data/cache/.", "taxonomist cache", "cache"),
    "train": VerbHelp(
        "Train one node's classifier on the cache, log an MLflow run and register a "
        "version of <taxonomy>.NODE.", "taxonomist train round", "train@NODE"),
    "evaluate": VerbHelp(
        "Test one node's classifier on the frozen test split: metrics/NODE.json and "
        "plots/NODE/.", "taxonomist evaluate round", "evaluate@NODE"),
    "stack": VerbHelp(
        "Compose every node's classifier into the stack, test it end to end and register "
        "it as a version of <taxonomy>.stack.", "taxonomist stack", "stack"),
    "promote": VerbHelp(
        "Compare the new stack with the one holding @live on the same test images; move "
        "@live if it is better, else tag it for a human.", "taxonomist promote", "promote"),
    "baseline": VerbHelp(
        "Train the yardsticks the model card compares the stack with (a flat network over "
        "every leaf, and an SVC) and test them on the stack's test split.",
        "taxonomist baseline", "baseline"),
    "report": VerbHelp(
        "Write the model card (reports/model_card.html and .pdf) and attach it to the "
        "stack's registered version.", "taxonomist report --markdown", "report"),
    "notify": VerbHelp("Send the promotion decision to the channels in conf/notify/.",
                       "taxonomist notify", "notify"),
    "rollback": VerbHelp(
        "Move @live back to an earlier stack version and tell people why. Not a DVC stage.",
        'taxonomist rollback --reason "six misread on the new scanner"'),
    "history": VerbHelp(
        "List the versions that held @live: who moved it, when and why. Reads MLflow only.",
        "taxonomist history"),
    "label": VerbHelp(
        "history: one image's labels and metadata over time (data/label_history.parquet). "
        "export: a batch of one node's images for Mechanical Turk or Label Studio. import: "
        "their answers, aggregated by crowd-kit into labels/crowd.csv. queue: the expert's "
        "page of disputed images, ranked (reports/labels/queue.html, decisions.csv). apply: "
        "the expert's decisions into labels/expert.csv. The next ingest applies both. Not "
        "DVC stages.",
        "taxonomist label history sedan/0001.png"),
    "augment-preview": VerbHelp(
        "Draw a grid of one node's augmented training images: what the network sees.",
        "taxonomist augment-preview round --n 16"),
    "sweep": VerbHelp(
        "", "taxonomist sweep round optim.lr=1e-3,3e-4 backbone.name=resnet10t,resnet18 -m"),
    "serve": VerbHelp("", "taxonomist serve --port 8000"),
    "api-key": VerbHelp("", "taxonomist api-key web-frontend --routes predict --rate 100/minute"),
    "repro": VerbHelp("", "taxonomist repro --jobs 4"),
}
NODE_VERBS = ("train", "evaluate", "sweep", "augment-preview")  # the verbs that take NODE


def document(parser: argparse.ArgumentParser, nodes: list[str] | None) -> None:
    """Give ``parser`` and each of its verbs their description, example and epilog.

    Args:
        parser: the ``taxonomist`` parser, its verbs added.
        nodes: the inner nodes of the project's taxonomy, named in the help of the verbs
            that take one; None when there is no project to read them from.
    """
    staged = ", ".join(
        verb + (" NODE" if verb in NODE_VERBS else "") for verb, w in VERBS.items() if w.stage
    )
    parser.description = textwrap.fill(DESCRIPTION, WIDTH)
    parser.epilog = EPILOG.format(staged=textwrap.fill(staged, WIDTH, initial_indent="  ",
                                                       subsequent_indent="  "))
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for verb, sub in verbs_of(parser).items():
        words = VERBS.get(verb)
        if words is None:
            continue
        sub.description = textwrap.fill(words.text(sub.description), WIDTH)
        sub.epilog = f"example:\n  {words.example}"
        if verb in NODE_VERBS:
            _name_node(sub)
            sub.epilog += f"\n\n{nodes_line(nodes)}"
        sub.formatter_class = argparse.RawDescriptionHelpFormatter


def nodes_line(nodes: list[str] | None) -> str:
    """``"NODE is one of: digit, round, ..."``, or how to see them when there is no project."""
    if nodes is None:
        return "NODE is an inner node of the taxonomy: run this inside a project to list them."
    return f"NODE is one of: {', '.join(nodes)}  (the inner nodes of the taxonomy)"


def _name_node(verb: argparse.ArgumentParser) -> None:
    """Show the node argument as NODE, as the descriptions and errors name it."""
    for action in verb._actions:
        if action.dest == "node":
            action.metavar = "NODE"


def verbs_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each verb's own parser, by name."""
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)
