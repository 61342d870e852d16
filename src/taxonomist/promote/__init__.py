"""The promotion gate: paired statistics, three outcomes, one atomic pointer.

:func:`compare` (or :func:`first_promotion`) is the rule, returning a
:class:`~taxonomist.contracts.promotion.Verdict`; :func:`promote` is the stage, which
writes the whole :class:`~taxonomist.contracts.promotion.PromotionRecord`.
"""

from taxonomist.promote.rule import compare, first_promotion
from taxonomist.promote.stage import promote

__all__ = ["compare", "first_promotion", "promote"]
