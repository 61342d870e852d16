"""The promotion gate: paired statistics, three outcomes, one atomic pointer."""

from taxonomist.promote.rule import INVESTIGATE, PROMOTE, REJECT, Decision, compare, first_promotion
from taxonomist.promote.stage import promote
from taxonomist.registry import LIVE, live_version

__all__ = [
    "INVESTIGATE",
    "LIVE",
    "PROMOTE",
    "REJECT",
    "Decision",
    "compare",
    "first_promotion",
    "live_version",
    "promote",
]
