"""Known vulnerabilities in the installed packages: pip-audit over this environment.

    python -m bench.audit                  # what `make audit` runs
    python -m bench.audit --service osv

Writes ``bench/results/audit.json`` through ``bench/record.py`` (the date, commit and
machine): how many packages were looked up, every vulnerable package with its advisories
and the versions that fix them, and why the others could not be audited. pip-audit says
"No known vulnerabilities found" even when it audited nothing (its vulnerability service
unreachable, a package not on PyPI), so this exits 1 for a vulnerable package and 2 when
some could not be audited: a clean result is one where every package was looked up.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.record import BenchRun, Figure, Table, add_results_option

PIP_AUDIT = Path(sys.executable).parent / "pip-audit"


def run_pip_audit(service: str) -> dict:
    """pip-audit's JSON report on this environment's own packages."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [str(PIP_AUDIT), "--local", "--vulnerability-service", service,
                   "--format", "json", "--progress-spinner", "off", "--output", str(report)]
        done = subprocess.run(command, capture_output=True, text=True)
        if not report.is_file():
            sys.exit(f"pip-audit wrote no report (exit {done.returncode}):\n{done.stderr}")
        return json.loads(report.read_text())


def summary(report: dict) -> dict:
    """The vulnerable packages and the ones not audited, from pip-audit's report."""
    packages = report["dependencies"]
    skipped = [p for p in packages if "skip_reason" in p]
    reasons = Counter(p["skip_reason"].split(":")[0] for p in skipped)
    vulnerable = [{"name": p["name"], "version": p["version"],
                   "advisories": [{"id": v["id"], "aliases": v.get("aliases", []),
                                   "fixed_in": v.get("fix_versions", [])} for v in p["vulns"]]}
                  for p in packages if p.get("vulns")]
    return {"packages": len(packages), "audited": len(packages) - len(skipped),
            "vulnerable": vulnerable,
            "not_audited": {"count": len(skipped), "reasons": dict(reasons.most_common()),
                            "names": sorted(p["name"] for p in skipped)}}


def tables(found: dict) -> list[Table]:
    """The audit as result tables: the counts, the vulnerable packages, the reasons."""
    counts = Table("summary", ["packages", "audited", "vulnerable", "not audited"], [[
        Figure(found["packages"], ""), Figure(found["audited"], ""),
        Figure(len(found["vulnerable"]), ""), Figure(found["not_audited"]["count"], "")]])
    vulnerable = Table("vulnerable", ["package", "version", "advisories", "fixed in"], [
        [p["name"], p["version"], ", ".join(a["id"] for a in p["advisories"]),
         ", ".join(v for a in p["advisories"] for v in a["fixed_in"])]
        for p in found["vulnerable"]])
    reasons = Table("not_audited", ["reason", "packages"], [
        [reason, Figure(count, "")] for reason, count in found["not_audited"]["reasons"].items()])
    return [counts, vulnerable, reasons]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", default="pypi", choices=["pypi", "osv"],
                        help="where pip-audit looks vulnerabilities up (default: pypi)")
    add_results_option(parser)
    args = parser.parse_args(argv)
    run = BenchRun.start("audit", args.results_dir, args)
    found = summary(run_pip_audit(args.service))
    run.write(tables(found))
    not_audited = found["not_audited"]["count"]
    print(f"{found['audited']} of {found['packages']} packages audited, "
          f"{len(found['vulnerable'])} vulnerable")
    for package in found["vulnerable"]:
        ids = ", ".join(a["id"] for a in package["advisories"])
        print(f"  {package['name']} {package['version']}: {ids}")
    if not_audited:
        print(f"  not audited: {not_audited} ({found['not_audited']['reasons']}); is the "
              f"{args.service} vulnerability service reachable from here?")
    return 1 if found["vulnerable"] else 2 if not_audited else 0


if __name__ == "__main__":
    sys.exit(main())
