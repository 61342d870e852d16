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
    result = tmp_path / "results" / "audit.json"
    monkeypatch.setattr(audit, "RESULT", result)
    monkeypatch.setattr(audit, "ROOT", tmp_path)
    monkeypatch.setattr(audit, "run_pip_audit",
                        lambda service: (["pip-audit", "--local", "-o", "x"],
                                         {"dependencies": packages, "fixes": []}))
    assert audit.main([]) == status
    record = json.loads(result.read_text())
    assert {"command", "commit", "date", "machine", "service"} <= set(record)
    assert record["packages"] == len(packages)
    assert record["audited"] == len([p for p in packages if "skip_reason" not in p])
    if VULNERABLE in packages:
        assert record["vulnerable"] == [{"name": "oldlib", "version": "1.0", "advisories": [
            {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "fixed_in": ["1.1"]}]}]
    if SKIPPED in packages:
        assert record["not_audited"]["names"] == ["locallib"]
