"""The per-asset supply counter (`asset:{SYM}` field `supply`), and its backfill for older data.

ex_deposit and ex_withdraw keep `supply` = deposits - withdrawals of the asset, in minor units, and refuse
a deposit that would take it to 2^53. Every balance of the asset (available + held, the fee account's
too) is part of the supply, so no balance and no credit a trade makes can reach 2^53.

A Redis written before the counter existed has balances but no `supply` field. `backfill_supply` sums the
balances of each such asset and sets the field (HSETNX: never over a counter the engine keeps). It SCANs
every `balance:*` hash, so it runs at startup (`exchange up`, `exchange seed`), before any API process
or worker can move money; reconcile then proves the counter equals deposits - withdrawals in PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

import redis


def backfill_supply(client: redis.Redis) -> dict[str, int]:
    """Set `supply` on every asset that lacks it; returns {asset: supply set}."""
    assets = sorted(str(a) for a in cast(set[Any], client.smembers("assets")))
    pipe = client.pipeline(transaction=False)
    for asset in assets:
        pipe.hexists(f"asset:{asset}", "supply")
    missing = [a for a, present in zip(assets, pipe.execute(), strict=True) if not present]
    if not missing:
        return {}
    totals: dict[str, int] = defaultdict(int)
    wanted = set(missing)
    for key in client.scan_iter(match="balance:*", count=1000):
        flat = cast(dict[str, str], client.hgetall(key))
        for name, value in flat.items():
            asset, _, part = name.rpartition(":")
            if asset in wanted and part in ("available", "held"):
                totals[asset] += int(value)
    for asset in missing:
        client.hsetnx(f"asset:{asset}", "supply", str(totals[asset]))
    return {asset: totals[asset] for asset in missing}
