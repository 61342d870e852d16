"""The report stage: a self-contained HTML model card per stack version, logged to MLflow.

:func:`write_model_card` reads what the earlier stages wrote and renders
``reports/model_card.html``; :func:`log_card_to_mlflow` attaches it to the stack's run
and puts its one-line summary on the registered version.
"""

from taxonomist.report.card import ModelCard, write_model_card
from taxonomist.report.publish import log_card_to_mlflow

__all__ = ["ModelCard", "log_card_to_mlflow", "write_model_card"]
