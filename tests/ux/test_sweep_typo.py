"""A misspelt sweep key is reported before torch and Lightning are imported: in seconds,
not after the 20 s those imports take on a small machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from taxonomist.cli import main
code = main(["sweep", "round", "optim.lrr=1e-3,3e-4"])
print(code, "torch" in sys.modules)
"""


def test_a_misspelt_sweep_key_is_reported_before_the_heavy_imports(project: Path):
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=project, capture_output=True,
                          text=True, timeout=300)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert "did you mean 'lr'?" in done.stderr
