"""bench/audit.py (`make audit`): pip-audit's report recorded, and a result that audited
nothing never passes for clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import audit

VULNERABLE = {"name": "oldlib", "version": "1.0", "vulns": [
    {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "fix_versions": ["1.1"]}]}
CLEAN = {"name": "goodlib", "version": "2.0", "vulns": []}
SKIPPED = {"name": "locallib", "skip_reason": "Dependency not found on PyPI and could not "
                                              "be audited: locallib (0.1)"}


@pytest.mark.parametrize(("packages", "status"), [
    ([CLEAN], 0),
    ([CLEAN, VULNERABLE], 1),
    ([CLEAN, SKIPPED], 2),  # pip-audit alone says "No known vulnerabilities found"
    ([SKIPPED, VULNERABLE], 1),
])
def test_the_exit_status_says_vulnerable_or_not_audited(
    packages: list[dict], status: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "run_pip_audit",
                        lambda service: {"dependencies": packages, "fixes": []})
    assert audit.main(["--results-dir", str(tmp_path)]) == status
    record = json.loads((tmp_path / "audit.json").read_text())
    assert {"command", "commit", "date", "machine", "settings"} <= set(record)
    assert record["settings"]["service"] == "pypi"
    counts = dict(zip(record["tables"]["summary"]["columns"],
                      (cell["value"] for cell in record["tables"]["summary"]["rows"][0]),
                      strict=True))
    assert counts["packages"] == len(packages)
    assert counts["audited"] == len([p for p in packages if "skip_reason" not in p])
    vulnerable = record["tables"]["vulnerable"]["rows"]
    assert vulnerable == ([["oldlib", "1.0", "PYSEC-2099-1", "1.1"]]
                          if VULNERABLE in packages else [])
    reasons = record["tables"]["not_audited"]["rows"]
    assert [row[0] for row in reasons] == (
        ["Dependency not found on PyPI and could not be audited"] if SKIPPED in packages else [])