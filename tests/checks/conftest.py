"""``validated(case)``: the report of one case of :mod:`tests.checks.cases`, made once.

great-expectations takes seconds to import and each validation about a second, so every
case is validated once per test session and the tests read the cached report.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from taxonomist.checks import ValidationReport, validate
from tests.checks.cases import CASES
from tests.checks.shapes import TAXONOMY

# Building Data Docs takes about half a second; only these cases build them.
WITH_DATA_DOCS = {"too_few"}


@pytest.fixture(scope="session")
def validated(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ValidationReport]:
    out = tmp_path_factory.mktemp("checks")
    reports: dict[str, ValidationReport] = {}

    def run(case: str) -> ValidationReport:
        if case not in reports:
            manifest, splits, rejects, classifiers = CASES[case]()
            path = out / case / "reports" / "data" / "validation.json"
            reports[case] = validate(
                manifest, splits, TAXONOMY, classifiers, path, rejects=rejects,
                data_docs=case in WITH_DATA_DOCS,
            )
        return reports[case]

    run.folder = lambda case: out / case / "reports" / "data"  # type: ignore[attr-defined]
    return run

