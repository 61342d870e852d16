"""The model card: one self-contained HTML file and a PDF per stack version.

Everything the card shows is read from files the earlier stages wrote (the records of
:mod:`taxonomist.contracts`, and :mod:`taxonomist.report.inputs`), so the report stage
reruns whenever any of them changes and never recomputes a statistic itself. Images are
embedded as data URIs and the CSS is inline: the file opens the same from a laptop, an
MLflow artifact view or an email attachment, with no network. The PDF (see
:mod:`taxonomist.report.pdf`) is the same card for people who sign off on paper or attach
it to a release ticket.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from taxonomist.config import Paths
from taxonomist.contracts.comparison import Scope
from taxonomist.contracts.files import write_text_atomic
from taxonomist.contracts.metrics import StackMetrics
from taxonomist.contracts.promotion import NO_CHANGE_WORDS, PromotionRecord
from taxonomist.report.baselines import BaselineComparison, load_baseline_comparison
from taxonomist.report.comparison import SideBySide, rows_from_checks, rows_from_metrics
from taxonomist.report.data_summary import DataSummary, load_data_summary
from taxonomist.report.gallery import Gallery, build_gallery
from taxonomist.report.glossary import GLOSSARY
from taxonomist.report.inputs import NodeSection, Validation, load_node_section, load_validation
from taxonomist.report.lineage import Lineage, load_lineage
from taxonomist.report.mistakes import MistakeSummary, load_outcomes, summarise_mistakes
from taxonomist.report.pdf import PdfWarning, write_pdf
from taxonomist.report.plots import comparison_chart, png_data_uri
from taxonomist.report.render import fmt, render_html, signed
from taxonomist.report.stopping import StoppingSection, load_stopping
from taxonomist.taxonomy import Taxonomy

AUTO = "auto"
CARD_NAME = "model_card.html"
PDF_NAME = "model_card.pdf"
LIVE_FOLDER = "live"
NODE_AXIS = "accuracy in the stack (right branch taken), frozen test split"
CLASS_AXIS = "recall on the frozen test split"


@dataclass(frozen=True)
class ModelCard:
    """A written model card.

    Attributes:
        path: ``reports/model_card.html``, the copy DVC tracks.
        version_path: ``reports/<version>/model_card.html``, kept for every version.
        live_path: ``reports/live/model_card.html`` when this version went live, else None.
        decision: ``"promote"``, ``"reject"`` or ``"investigate"``.
        summary: one line for a registry description or a notification.
        pdf_path: ``reports/model_card.pdf`` (copied beside each HTML copy), or None
            when no PDF could be made; ``pdf_warning`` then says why.
        pdf_engine: what made the PDF: a TeX engine's name or ``"xhtml2pdf"``.
    """

    path: Path
    version_path: Path
    live_path: Path | None
    decision: str
    model: str
    version: str
    summary: str
    pdf_path: Path | None = None
    pdf_engine: str | None = None
    pdf_warning: str | None = None

    @property
    def html_paths(self) -> list[Path]:
        return [p for p in (self.path, self.version_path, self.live_path) if p is not None]

    @property
    def pdf_paths(self) -> list[Path]:
        """The PDF beside each HTML copy; empty when no PDF was made."""
        if self.pdf_path is None:
            return []
        return [p.with_name(PDF_NAME) for p in self.html_paths]

    @property
    def written(self) -> list[Path]:
        return [*self.html_paths, *self.pdf_paths]


@dataclass(frozen=True)
class CardContext:
    """Everything the templates render, already loaded and typed."""

    taxonomy: str
    promotion: PromotionRecord
    verdict: str
    summary: str
    node_rows: list[SideBySide]
    class_rows: list[SideBySide]
    node_chart: str | None
    class_chart: str | None
    mistakes: MistakeSummary | None
    gallery: Gallery | None
    data: DataSummary
    validation: Validation | None
    nodes: list[NodeSection]
    stack: StackMetrics
    lineage: Lineage
    stopping: StoppingSection | None
    baselines: BaselineComparison | None  # None: the baseline stage has not run
    generated_at: str

    @property
    def glossary(self) -> Mapping[str, str]:
        """What each metric means, in one line, for the card to show where it appears."""
        return GLOSSARY


def write_model_card(paths: Paths, taxonomy: Taxonomy, pdf: str | None = AUTO) -> ModelCard:
    """Render the model card, HTML and PDF, for the challenger in ``reports/promotion.json``.

    Writes ``reports/model_card.html`` and ``reports/<version>/model_card.html``, and
    ``reports/live/model_card.html`` too when the decision was to promote, so that
    ``reports/live/`` always describes the stack holding the ``live`` alias. A
    ``model_card.pdf`` goes beside each. When no PDF can be made, the HTML is still
    written, a :class:`~taxonomist.report.pdf.PdfWarning` says why and any PDF left
    there by an earlier version is removed, so it cannot be mistaken for this one.

    Args:
        paths: the project layout.
        taxonomy: the tree the stack classifies into.
        pdf: how to make the PDF: ``"auto"`` (a TeX engine on PATH, else xhtml2pdf),
            one engine by name (``"pdflatex"``, ``"xelatex"``, ``"tectonic"``,
            ``"xhtml2pdf"``), or None for no PDF.

    Example:
        >>> card = write_model_card(Paths(Path(".")), taxonomy)  # doctest: +SKIP
        >>> card.pdf_path, card.pdf_engine  # no TeX engine on PATH here
        (PosixPath('reports/model_card.pdf'), 'xhtml2pdf')

    Raises:
        DataError: promotion.json, stack.json or a node's metrics is missing or broken.
    """
    context = build_context(paths, taxonomy)
    promotion = context.promotion
    version = promotion.challenger.version
    card = ModelCard(
        paths.model_card, paths.reports / version / CARD_NAME,
        paths.reports / LIVE_FOLDER / CARD_NAME if promotion.promoted else None,
        promotion.verdict.decision, promotion.registered_model, version, context.summary,
    )
    for target in card.html_paths:  # all or nothing: a full disk keeps the last card
        write_text_atomic(target, render_html(context, page_dir=target.parent))
    if pdf is not None:
        result = write_pdf(context, paths.model_card.with_name(PDF_NAME),
                           None if pdf == AUTO else pdf)
        card = replace(card, pdf_path=result.path, pdf_engine=result.engine,
                       pdf_warning=result.warning)
        if result.warning:
            warnings.warn(result.warning, PdfWarning, stacklevel=2)
    _place_pdf_copies(card)
    return card


def build_context(paths: Paths, taxonomy: Taxonomy) -> CardContext:
    """Load every input of the card (the records, then :mod:`taxonomist.report.inputs`)."""
    promotion = PromotionRecord.read(paths.promotion)
    stack = stack_numbers(paths, promotion)
    nodes = [load_node_section(paths, node) for node in taxonomy.inner_nodes]  # fail early
    node_rows, class_rows = side_by_side(taxonomy, promotion, stack)
    outcomes = load_outcomes(paths)
    return CardContext(
        taxonomy=taxonomy.name,
        promotion=promotion,
        verdict=verdict_words(promotion),
        summary=summary_line(promotion),
        node_rows=node_rows,
        class_rows=class_rows,
        node_chart=_chart(node_rows, NODE_AXIS, promotion),
        class_chart=_chart(class_rows, CLASS_AXIS, promotion),
        mistakes=None if outcomes is None else summarise_mistakes(taxonomy, outcomes),
        gallery=None if outcomes is None else build_gallery(paths, taxonomy, outcomes),
        data=load_data_summary(paths, taxonomy.nodes),
        validation=load_validation(paths.validation),
        nodes=nodes,
        stack=stack,
        stopping=load_stopping(paths, stack),
        lineage=load_lineage(paths, promotion),
        baselines=load_baseline_comparison(paths, taxonomy.leaves, taxonomy.root,
                                           stack.leaf_accuracy, outcomes),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def stack_numbers(paths: Paths, promotion: PromotionRecord) -> StackMetrics:
    """Every number of the stack: ``metrics/stack.json`` holds only the few that ``dvc
    metrics show`` prints, the promotion record all that the promote stage measured on
    the challenger (the same stack on the same images)."""
    headline = StackMetrics.read(paths.stack_metrics)  # missing: say which stage to run
    if "leaf_accuracy" not in promotion.challenger.metrics:
        return headline  # a record from before the metrics moved into it
    return StackMetrics.from_json(promotion.challenger.metrics, f"{paths.promotion}: challenger")


def side_by_side(
    taxonomy: Taxonomy, promotion: PromotionRecord, stack: StackMetrics
) -> tuple[list[SideBySide], list[SideBySide]]:
    """Rows per node and per class: from the promote stage's checks where it made them,
    else per-class recall as both stacks recorded it (and no node rows)."""
    checks = promotion.verdict.checks
    if checks:
        return rows_from_checks(checks, Scope.NODE), rows_from_checks(checks, Scope.CLASS)
    live = (promotion.live_before.metrics if promotion.live_before else {}).get("per_class_recall")
    live = live if isinstance(live, dict) else None
    return [], rows_from_metrics(list(taxonomy.leaves), stack.per_class_recall, live)


def verdict_words(promotion: PromotionRecord) -> str:
    """What the decision did, e.g. ``"promoted to live"``; :data:`NO_CHANGE_WORDS` for a
    rerun."""
    return NO_CHANGE_WORDS if promotion.unchanged else promotion.verdict.decision.words


def summary_line(promotion: PromotionRecord) -> str:
    """One line saying what happened, e.g. for the registry's version description.

    Example: ``"digits.stack v3 promoted to live: leaf_accuracy 0.9620 (+0.0120 vs v2,
    95% CI +0.0040 to +0.0205, McNemar p=0.0031). significantly better: ..."``.
    """
    verdict = promotion.verdict
    line = (f"{promotion.registered_model} v{promotion.challenger.version} "
            f"{verdict_words(promotion)}: {promotion.metric} {fmt(promotion.challenger_value)}")
    comparison = verdict.comparison
    if promotion.live_version is not None and comparison is not None:
        line += (f" ({signed(comparison.difference)} vs v{promotion.live_version}, "
                 f"{comparison.confidence:.0%} CI {signed(comparison.ci_low)} to "
                 f"{signed(comparison.ci_high)}, {promotion.p_value_test} "
                 f"p={comparison.p_value:.3g})")
    elif promotion.live_version is not None and verdict.difference is not None:
        line += f" ({verdict.difference:+.4f} vs v{promotion.live_version})"
    elif promotion.live_version is None:
        line += " (nothing was live)"
    return f"{line}. {verdict.reason}".strip()


def _chart(rows: list[SideBySide], axis: str, promotion: PromotionRecord) -> str | None:
    if not rows:
        return None
    png = comparison_chart(
        rows, axis,
        challenger_label=f"v{promotion.challenger.version} (challenger)",
        live_label=f"v{promotion.live_version} (live before)",
    )
    return png_data_uri(png)


def _place_pdf_copies(card: ModelCard) -> None:
    """Copy the PDF beside each HTML copy, or remove stale PDFs when there is none:
    an older version's PDF beside this HTML would be mistaken for this one."""
    for html in card.html_paths:
        target = html.with_name(PDF_NAME)
        if card.pdf_path is None:
            target.unlink(missing_ok=True)
        elif target != card.pdf_path:
            shutil.copyfile(card.pdf_path, target)
