"""A small pure-Python reference matcher: the executable form of docs/engine.md.

`Reference` has the same methods, arguments and result shapes as `exchange.engine.client.Engine` and
raises the same `exchange.engine.errors` exceptions, so the differential test
(tests/engine/test_differential.py) can run one command stream through both and compare every result,
every book, every balance and every event. It favours being obviously right over being fast: books are
plain lists sorted on each read, arithmetic is unbounded Python integers, the matching loop is planned as
a pure walk and then applied (so the FOK and market-buy dry runs are literally the same loop).

Modules: `_math` (rounding and holds; the API's volume estimate rounds with its `trade_amounts` and stops
at its `beyond_band`), `_model` (orders, markets, vocabularies, errors), `_state` (balances, events, book
primitives), `_matching` (`place`), `_engine` (wallet, cancels, statuses, reads).
"""

from exchange.reference._engine import Reference
from exchange.reference._math import (
    TradeAmounts,
    affordable_lots,
    beyond_band,
    sellable_lots,
    trade_amounts,
)
from exchange.reference._model import CANCEL_BATCH, CANCEL_EXAMINE, MAX_MAKERS, MAX_OPEN_ORDERS, Order

__all__ = [
    "CANCEL_BATCH",
    "CANCEL_EXAMINE",
    "MAX_MAKERS",
    "MAX_OPEN_ORDERS",
    "Order",
    "Reference",
    "TradeAmounts",
    "affordable_lots",
    "beyond_band",
    "sellable_lots",
    "trade_amounts",
]
