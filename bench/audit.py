"""Known vulnerabilities in the installed packages: pip-audit over this environment.

    .venv/bin/python bench/audit.py            # what `make audit` runs
    .venv/bin/python bench/audit.py --service osv

Writes ``bench/results/audit.json``: the date, commit and machine, every vulnerable
package with its advisories and the versions that fix them, and the packages that could
not be audited, with pip-audit's reason. pip-audit says "No known vulnerabilities found"
even when it audited nothing (its vulnerability service unreachable, a package not on
PyPI), so this exits 1 for a vulnerable package and 2 when some could not be audited: a
clean result is one where every package was looked up.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "audit.json"
PIP_AUDIT = Path(sys.executable).parent / "pip-audit"


def run_pip_audit(service: str) -> tuple[list[str], dict]:
    """pip-audit's command and its JSON report on this environment's own packages."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [str(PIP_AUDIT), "--local", "--vulnerability-service", service,
                   "--format", "json", "--progress-spinner", "off", "--output", str(report)]
        done = subprocess.run(command, capture_output=True, text=True)
        if not report.is_file():
            sys.exit(f"pip-audit wrote no report (exit {done.returncode}):\n{done.stderr}")
        return command, json.loads(report.read_text())


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


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", default="pypi", choices=["pypi", "osv"],
                        help="where pip-audit looks vulnerabilities up (default: pypi)")
    args = parser.parse_args(argv)
    command, report = run_pip_audit(args.service)
    found = summary(report)
    record = {"command": " ".join(["pip-audit", *command[1:-2]]), "commit": commit(),
              "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": f"{platform.node()} ({platform.platform()}, Python "
                         f"{platform.python_version()})",
              "service": args.service, **found}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(record, indent=2) + "\n")
    not_audited = found["not_audited"]["count"]
    print(f"{RESULT.relative_to(ROOT)}: {found['audited']} of {found['packages']} packages "
          f"audited, {len(found['vulnerable'])} vulnerable")
    for package in found["vulnerable"]:
        ids = ", ".join(a["id"] for a in package["advisories"])
        print(f"  {package['name']} {package['version']}: {ids}")
    if not_audited:
        print(f"  not audited: {not_audited} ({found['not_audited']['reasons']}); is the "
              f"{args.service} vulnerability service reachable from here?")
    return 1 if found["vulnerable"] else 2 if not_audited else 0


if __name__ == "__main__":
    sys.exit(main())
