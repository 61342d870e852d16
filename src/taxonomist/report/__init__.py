"""The report stage: a self-contained model card per stack version, logged to MLflow.

:func:`report` is the stage. :func:`write_model_card` reads what the earlier stages
wrote and renders ``reports/model_card.html`` and ``reports/model_card.pdf``;
:func:`log_card_to_mlflow` attaches both to the stack's run and puts the card's one-line
summary on the registered version.
"""

from taxonomist.report.card import ModelCard, write_model_card
from taxonomist.report.pdf import PdfWarning
from taxonomist.report.publish import log_card_to_mlflow
from taxonomist.report.stage import report

__all__ = ["ModelCard", "PdfWarning", "log_card_to_mlflow", "report", "write_model_card"]
