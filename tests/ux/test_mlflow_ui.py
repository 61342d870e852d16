"""What a person sees of a promoted stack in the MLflow UI (a real ``mlflow server``), read
back through ``MlflowClient`` and once in headless Chromium.

The registry is written with the functions the stages call: the experiment's tags, the
run names, the version description with its card link, the node versions' stack tags,
and the move of ``@live`` with its history table.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from mlflow import MlflowClient
from playwright.sync_api import Page, expect

from taxonomist.tracking.client import register_version, run_artifact_uri
from taxonomist.tracking.live_alias import PROMOTE, move_live
from taxonomist.tracking.names import (
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING,
    UI_MODEL_TRAINING,
    experiment_tags,
    in_stack_tag,
    stack_run_name,
    train_run_name,
)
from taxonomist.tracking.versions import (
    attach_files,
    card_link,
    describe_version,
    name_run,
    tag_node_versions,
    version_description,
)

CARD_HEADING = "Model card of a stack the UI test made"
CARD = "model_card/model_card.html"


@dataclass(frozen=True)
class Registry:
    url: str
    experiment: str
    stack: str
    node: str
    stack_run: str
    version: str


@pytest.fixture(scope="module")
def registry(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """One node version and one stack version built from it, promoted, as `dvc repro` does."""
    client, prefix = MlflowClient(mlflow_server), f"ux{secrets.token_hex(3)}"
    experiment = client.create_experiment(prefix, tags=experiment_tags())
    node, stack = f"{prefix}.round", f"{prefix}.stack"
    node_run = client.create_run(experiment, run_name=train_run_name("round")).info.run_id
    register_version(client, node, run_artifact_uri(client, node_run, "model"), node_run, {})
    stack_run = client.create_run(experiment, run_name="stack").info.run_id
    card = tmp_path_factory.mktemp("card") / "model_card.html"
    card.write_text(f"<html><body><h1>{CARD_HEADING}</h1></body></html>")
    attach_files(client, stack_run, [card], "model_card")
    version = register_version(
        client, stack, run_artifact_uri(client, stack_run, "stack"), stack_run, {}
    )
    name_run(client, stack_run, stack_run_name(version))
    tag_node_versions(client, {node: node_run}, stack, version)
    summary = f"{stack} v{version} promoted to live: leaf_accuracy 0.9800 (nothing was live)."
    link = card_link(client, stack_run, CARD)
    describe_version(client, stack, version, version_description("promote", summary, link))
    move_live(client, stack, version, reason="first promotion", actor="ux test", kind=PROMOTE)
    return Registry(mlflow_server, experiment, stack, node, stack_run, version)


def test_what_the_registry_says_reads_back(registry: Registry):
    client = MlflowClient(registry.url)
    assert client.get_experiment(registry.experiment).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    assert client.get_run(registry.stack_run).info.run_name == f"stack v{registry.version}"
    described = client.get_model_version(registry.stack, registry.version).description
    assert described.startswith("**Promoted to live** · [model card](#/experiments/")
    assert f"/runs/{registry.stack_run}/artifacts/{CARD}?{UI_MODEL_TRAINING})" in described
    (node_version,) = client.search_model_versions(f"name = '{registry.node}'")
    tag = in_stack_tag(registry.version)
    assert node_version.tags[tag] == f"{registry.stack} v{registry.version}"
    history = client.get_registered_model(registry.stack).description
    assert f"| v{registry.version} | none | promote | ux test | first promotion |" in history


def test_the_registry_page_shows_live_and_the_version_links_its_card(
    registry: Registry, page: Page
):
    page.goto(f"{registry.url}/#/models/{registry.stack}?{UI_MODEL_TRAINING}")
    version_row = page.get_by_role("row").filter(has_text=f"Version {registry.version}")
    expect(version_row).to_contain_text("@ live")
    history = page.locator("table", has_text="when (UTC)")  # the model's description
    expect(history).to_contain_text(f"v{registry.version} none promote ux test first promotion")
    page.get_by_role("link", name=f"Version {registry.version}", exact=True).click()
    with page.context.expect_page() as opened:  # the UI opens description links in a tab
        page.get_by_role("link", name="model card").click()
    card = opened.value
    # the run's artifact viewer, the card selected and rendered
    expect(card.frame_locator("iframe").get_by_text(CARD_HEADING)).to_be_visible()
