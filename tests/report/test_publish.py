from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlflow import MlflowClient

from taxonomist.report import log_card_to_mlflow, write_model_card
from tests.report.make_inputs import taxonomy, write_inputs


def registered_stack(tmp_path: Path) -> tuple[MlflowClient, str, str]:
    """A finished run with a registered version of ``digits.stack``, on local sqlite."""
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment(
        "digits", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    run = client.create_run(experiment)
    client.set_terminated(run.info.run_id)
    client.create_registered_model("digits.stack")
    version = client.create_model_version(
        "digits.stack", source=f"{run.info.artifact_uri}/stack", run_id=run.info.run_id
    )
    return client, run.info.run_id, str(version.version)


def test_card_lands_on_the_run_and_the_version(tmp_path: Path) -> None:
    client, run_id, version = registered_stack(tmp_path)
    card = write_model_card(write_inputs(tmp_path / "project"), taxonomy(), pdf=None)
    pdf = card.path.with_suffix(".pdf")
    pdf.write_bytes(b"%PDF-1.4 made by write_model_card (see test_pdf)")
    card = replace(card, pdf_path=pdf)
    log_card_to_mlflow(card, client.tracking_uri, run_id, "digits.stack", version)
    artifacts = [a.path for a in client.list_artifacts(run_id, "model_card")]
    assert artifacts == ["model_card/model_card.html", "model_card/model_card.pdf"]
    local = Path(client.download_artifacts(run_id, "model_card/model_card.html", str(tmp_path)))
    assert local.read_text() == card.path.read_text()
    local_pdf = client.download_artifacts(run_id, "model_card/model_card.pdf", str(tmp_path))
    assert Path(local_pdf).read_bytes() == pdf.read_bytes()
    description = client.get_model_version("digits.stack", version).description
    # the decision first, then a link to the card in the UI, then the card's summary
    assert description.startswith("**Promoted to live**")
    assert f"runs/{run_id}/artifacts/model_card/model_card.html" in description
    assert description.endswith(card.summary)
    assert card.summary.startswith("digits.stack v3 promoted to live: leaf_accuracy 0.9620")

