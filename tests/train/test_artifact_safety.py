"""Malicious model files: a pickle with a payload is refused, naming it, before it runs.

The payload opens (so creates) a marker file when unpickled. Each test first shows that
the payload is live, then that taxonomist refuses the file and the marker never appears.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import timm
import torch

from taxonomist.config.schema import BackboneConfig
from taxonomist.train.artifact import (
    HEAD_FILE,
    WEIGHTS_FILE,
    UnsafeModelFile,
    load_node_model,
    save_node_model,
)
from taxonomist.train.backbone import create_backbone
from taxonomist.train.checkpointing import resume_point
from taxonomist.train.model import NodeSpec


class Payload:
    """Unpickling this calls ``open(marker, "w")``: any code could run in its place."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return open, (str(self.marker), "w")


def bare_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"epoch": 1, "state_dict": Payload(marker)}))


def torch_zip(path: Path, marker: Path) -> None:
    torch.save({"epoch": 1, "state_dict": {"w": torch.ones(2)}, "x": Payload(marker)}, path)


WRITERS = {"bare pickle": bare_pickle, "torch.save zip": torch_zip}


def assert_payload_is_live(write: Callable[[Path, Path], None], tmp_path: Path) -> Path:
    """The same payload, loaded the unsafe way, does create the marker (then removed)."""
    probe, marker = tmp_path / "probe.bin", tmp_path / "PWNED"
    write(probe, marker)
    with contextlib.suppress(RuntimeError):  # a bare pickle runs, then is no checkpoint
        torch.load(probe, weights_only=False)
    assert marker.exists(), "the payload does not run: the test would prove nothing"
    marker.unlink()
    return marker


def saved_node(folder: Path, head: str) -> None:
    """A node's folder; a classical one (its head is read after the backbone) is saved
    with the backbone's weights only, as fit_classical saves it."""
    spec = NodeSpec("round", ["a", "b"], "test_resnet", 16, [0.5] * 3, [0.5] * 3, 0.5, head)
    network = timm.create_model("test_resnet", num_classes=0 if head == "logreg" else 2)
    save_node_model(network, spec, folder)


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_a_checkpoint_with_a_payload_is_refused_on_resume(write, tmp_path: Path) -> None:
    marker = assert_payload_is_live(write, tmp_path)
    folder = tmp_path / "checkpoints" / "round"
    folder.mkdir(parents=True)
    write(folder / "last.ckpt", marker)
    with pytest.raises(UnsafeModelFile, match=r"last\.ckpt: refusing to load it.*imports"):
        resume_point(folder, "fingerprint")
    assert not marker.exists()
    assert (folder / "last.ckpt").exists()  # kept where it is, for whoever investigates


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_a_backbone_weights_file_with_a_payload_is_refused(write, tmp_path: Path) -> None:
    marker = assert_payload_is_live(write, tmp_path)
    weights = tmp_path / "downloaded.pth"
    write(weights, marker)
    cfg = BackboneConfig(name="test_resnet", weights=str(weights))
    with pytest.raises(UnsafeModelFile, match=r"downloaded\.pth: refusing to load it"):
        create_backbone(cfg, 2, "conf/classifiers/round.yaml")
    assert not marker.exists()


@pytest.mark.parametrize("file", [WEIGHTS_FILE, HEAD_FILE])
def test_a_node_model_file_replaced_by_a_payload_is_refused(file: str, tmp_path: Path) -> None:
    marker = assert_payload_is_live(bare_pickle, tmp_path)
    folder = tmp_path / "models" / "round"
    saved_node(folder, "logreg" if file == HEAD_FILE else "linear")
    bare_pickle(folder / file, marker)
    with pytest.raises(UnsafeModelFile, match=rf"round/{file}: refusing to load it"):
        load_node_model(folder)
    assert not marker.exists()


def test_a_damaged_checkpoint_is_still_only_set_aside(tmp_path: Path) -> None:
    """Refusing payloads does not turn every unreadable checkpoint into an error."""
    (tmp_path / "last.ckpt").write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match=r"skipping checkpoint .*last\.ckpt"):
        assert resume_point(tmp_path, "fingerprint").checkpoint is None
