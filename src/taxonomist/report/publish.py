"""Put the model card where people browsing MLflow will find it."""

from __future__ import annotations

from taxonomist.report.card import ModelCard
from taxonomist.tracking.client import client_at
from taxonomist.tracking.versions import (
    attach_files,
    card_link,
    describe_version,
    version_description,
)

ARTIFACT_FOLDER = "model_card"
MAX_DESCRIPTION = 4000  # well inside every MLflow backend's column size


def log_card_to_mlflow(
    card: ModelCard, tracking_uri: str, run_id: str, model_name: str, version: str
) -> None:
    """Attach the card to the stack's run and describe the registered version with it.

    The HTML lands as ``model_card/model_card.html`` among the run's artifacts (and the
    PDF as ``model_card/model_card.pdf`` when one was made), and the version's
    description starts with the decision and a link that opens the card in the MLflow
    UI, then the card's one-line summary, so the registry page says what was decided.

    Args:
        card: what :func:`~taxonomist.report.write_model_card` returned.
        tracking_uri: the MLflow tracking URI the stack was registered under.
        run_id: the run that logged the stack (``challenger.run_id`` in promotion.json).
        model_name: the registered model, e.g. ``"digits.stack"``.
        version: the version the card describes.
    """
    client = client_at(tracking_uri)
    files = [card.path]
    if card.pdf_path is not None and card.pdf_path.is_file():
        files.append(card.pdf_path)
    attach_files(client, run_id, files, ARTIFACT_FOLDER)
    link = card_link(client, run_id, f"{ARTIFACT_FOLDER}/{card.path.name}")
    description = version_description(card.decision, card.summary, link)
    describe_version(client, model_name, str(version), description[:MAX_DESCRIPTION])
