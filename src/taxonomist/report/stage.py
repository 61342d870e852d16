"""The report stage: write the model card and put it on the stack's MLflow run."""

from __future__ import annotations

from taxonomist.config import Config, Paths, resolve_tracking_uri
from taxonomist.contracts.promotion import PromotionRecord
from taxonomist.errors import DataError
from taxonomist.report.card import AUTO, ModelCard, write_model_card
from taxonomist.report.publish import log_card_to_mlflow


def report(config: Config, paths: Paths, pdf: str | None = AUTO) -> ModelCard:
    """Render the card for the challenger in ``reports/promotion.json`` and publish it.

    Args:
        config: the composed config (the taxonomy, and where MLflow is).
        paths: the project layout.
        pdf: how to make the PDF (see :func:`~taxonomist.report.write_model_card`).

    Returns:
        The card as written; it is also attached to the challenger's run, and its summary
        describes the challenger's registered version. Not so on a rerun whose challenger
        already held ``@live`` (the card says "no change"): the live version keeps the
        card and description of the promotion that put it there.

    Raises:
        DataError: an input of the card is missing or broken, or promotion.json does not
            name the run that logged the challenger.
    """
    card = write_model_card(paths, config.taxonomy, pdf)
    record = PromotionRecord.read(paths.promotion)
    if record.unchanged:
        return card
    run_id = record.challenger.run_id
    if not run_id:
        raise DataError(f"{paths.promotion}: expected key 'challenger.run_id', the run to "
                        "attach the card to; rerun `dvc repro promote` to rewrite it")
    tracking_uri = resolve_tracking_uri(config.project.mlflow.tracking_uri, paths)
    log_card_to_mlflow(card, tracking_uri, run_id, record.registered_model,
                       record.challenger.version)
    return card
