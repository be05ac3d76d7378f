"""The per-asset supply counter (`asset:{SYM}` field `supply`), and the count that creates it for older data.

ex_deposit and ex_withdraw keep `supply` = deposits - withdrawals of the asset, in minor units, and refuse
a deposit that would take it to 2^53. Every balance of the asset (available + held, the fee account's
too) is part of the supply, so no balance and no credit a trade makes can reach 2^53. ex_create_asset
starts a new asset at 0.

A Redis written before the counter existed has assets without the field. The wallet then leaves it absent
(and checks the receiving balance alone), and `count_missing_supply` sets it: one script sums the balances
of every such asset and writes the sums, atomically, so no trade or deposit can fall between the count and
the write. It walks every `balance:*` hash (SCAN inside the script), which blocks Redis for about a
microsecond per balance field; it runs once per asset, at startup (`exchange up`, `exchange seed`), and
does nothing once every asset has its counter. Reconcile proves the counter equals deposits - withdrawals
in PostgreSQL; a counter found wrong is recounted by deleting the field (`HDEL asset:{SYM} supply`) and
running `exchange seed`.
"""

from __future__ import annotations

import json
from typing import Any, cast

import redis

# Returns JSON {asset: supply written} for the assets that had no counter.
COUNT_LUA = """
local missing, any = {}, false
for _, asset in ipairs(redis.call('SMEMBERS', 'assets')) do
  if redis.call('HEXISTS', 'asset:' .. asset, 'supply') == 0 then
    missing[asset], any = 0, true
  end
end
if not any then
  return '{}'
end
local seen, cursor = {}, '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', 'balance:*', 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    if not seen[key] then -- SCAN may return a key twice
      seen[key] = true
      local flat = redis.call('HGETALL', key)
      for i = 1, #flat, 2 do
        local asset, part = string.match(flat[i], '^(.*):(%a+)$')
        if missing[asset] and (part == 'available' or part == 'held') then
          missing[asset] = missing[asset] + tonumber(flat[i + 1])
        end
      end
    end
  end
until cursor == '0'
local out = {}
for asset, total in pairs(missing) do
  local text = string.format('%d', total)
  redis.call('HSET', 'asset:' .. asset, 'supply', text)
  out[#out + 1] = cjson.encode(asset) .. ':' .. text
end
return '{' .. table.concat(out, ',') .. '}'
"""


def count_missing_supply(client: redis.Redis) -> dict[str, int]:
    """Set `supply` on every asset that lacks it, from its balances, atomically; returns {asset: supply}."""
    raw = cast(Any, client.eval(COUNT_LUA, 0))
    return {str(k): int(v) for k, v in json.loads(raw).items()}
