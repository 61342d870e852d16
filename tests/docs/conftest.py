"""The manual's hooks are scripts MkDocs loads by path (docs/hooks/): import them so."""

from __future__ import annotations

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "docs" / "hooks"))
