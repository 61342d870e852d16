"""A rerun whose stack is already live changes nothing and loses nothing.

As a new user meets it: promote, report and notify; then `dvc repro` again with the
same stack (the stack stage reran, but its version is the live one). The first
promotion's evidence on the registry must survive, and every output says "no change".
"""

from __future__ import annotations

import json
from pathlib import Path

from taxonomist.config import Paths, compose_config
from taxonomist.contracts.promotion import Outcome, PromotionRecord
from taxonomist.evaluate.node import evaluate_node
from taxonomist.notify.stage import notify
from taxonomist.promote import promote
from taxonomist.report.markdown import markdown_summary
from taxonomist.report.stage import report
from taxonomist.tracking.client import client_for
from taxonomist.tracking.live_alias import history
from tests.promote.test_stage import NAME, register_stack


def decide_and_publish(root: Path) -> PromotionRecord:
    """The promote, report and notify stages, as `dvc repro` runs them."""
    config, paths = compose_config(root / "conf"), Paths(root)
    record = promote(config, paths)
    report(config, paths, pdf=None)
    notify(config, paths)
    return record


def evidence(root: Path, version: str) -> dict:
    """What the registry shows of ``version``: tags, description and attached card."""
    paths = Paths(root)
    client = client_for(compose_config(root / "conf").project.mlflow, paths)
    model = client.get_model_version(NAME, version)
    card = client.download_artifacts(model.run_id, "model_card/model_card.html", str(root))
    return {"tags": dict(model.tags), "description": model.description,
            "card": Path(card).read_text(), "moves": len(history(client, NAME))}


def test_a_rerun_of_the_live_stack_keeps_its_evidence_and_says_no_change(
    project: Path,
) -> None:
    config = compose_config(project / "conf")
    for node in config.taxonomy.inner_nodes:  # the card shows each node's test metrics
        evaluate_node(node, config, Paths(project))
    version = register_stack(project)
    first = decide_and_publish(project)
    assert first.verdict.decision == Outcome.PROMOTE and not first.unchanged
    before = evidence(project, version)
    first_card = (project / "reports" / "model_card.html").read_text()
    assert "promoted to live" in before["description"]

    again = decide_and_publish(project)  # same stack: v1 already holds 'live'

    assert again.verdict.decision == Outcome.PROMOTE and again.unchanged, again.verdict.reason
    assert "no change" in again.verdict.reason
    assert evidence(project, version) == before  # tags, description, card, one move
    outbox = [json.loads(line) for line in (project / "reports" / "outbox.jsonl").open()]
    assert len(outbox) == 2 and "no change" in outbox[-1]["title"], outbox[-1]
    assert "first live version" not in outbox[-1]["title"]
    markdown = markdown_summary(Paths(project), config.taxonomy)
    assert "no change" in markdown.splitlines()[0] and "✅" not in markdown
    card = (project / "reports" / "model_card.html").read_text()
    assert "Decision: no change (already live)" in card and card != first_card
