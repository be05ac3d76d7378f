--[[
  wallet: deposits and withdrawals, idempotent by the caller's ref.
    events:wallet  stream, entry id {seq}-0, seq from seq:wallet; fields type, ts, data (JSON), call (seq:call),
                   as C.event
    wallet:refs    hash ref -> JSON of the original result (with its kind)
    asset:{SYM}    field supply: deposits - withdrawals of the asset, in minor units. Every balance of the
                   asset (available + held, the fee account's too) is part of it, so keeping the supply
                   below 2^53 keeps every balance, and every credit a trade makes, below 2^53. An asset of
                   data written before the counter existed has no field until exchange/engine/supply.py
                   counts it: meanwhile the wallet leaves it absent and checks the balance alone.
]]
local RESULT = { { 'account', 'i' }, { 'asset', 's' }, { 'amount', 'i' }, { 'available', 'i' }, { 'held', 'i' } }

-- kind: 'deposit' | 'withdrawal'
function W.move(kind, keys, args)
  local balance_key, refs_key = keys[1], keys[2]
  local account, asset, amount, ref, ts = U.uint(args[1]), args[2], args[3], args[4], U.uint(args[5])
  if not account or balance_key ~= 'balance:' .. args[1] or refs_key ~= 'wallet:refs' then
    U.fail('INVALID_ARGUMENT', 'account must be a non-negative integer')
  end
  if redis.call('SISMEMBER', 'assets', asset) == 0 then
    U.fail('UNKNOWN_ASSET', 'no asset ' .. asset)
  end
  amount = U.uint(amount)
  if not amount or amount <= 0 then
    U.fail('INVALID_AMOUNT', 'amount must be a positive integer below 2^53')
  end
  if #ref < 1 or #ref > 64 or not string.find(ref, '^[%w%._:%-]+$') then
    U.fail('INVALID_ARGUMENT', 'ref must be 1..64 of [A-Za-z0-9._:-]')
  end
  if not ts then
    U.fail('INVALID_ARGUMENT', 'ts_ms must be a non-negative integer')
  end
  local prior = redis.call('HGET', refs_key, ref)
  if prior then
    local p = cjson.decode(prior)
    if p.kind ~= kind or p.account ~= account or p.asset ~= asset or p.amount ~= amount then
      U.fail('DUPLICATE_REF', 'ref ' .. ref .. ' was used with other fields')
    end
    p.duplicate = true
    return p
  end
  local bal = redis.call('HMGET', balance_key, asset .. ':available', asset .. ':held')
  local available, held = tonumber(bal[1]) or 0, tonumber(bal[2]) or 0
  local asset_key = 'asset:' .. asset
  local supply = tonumber(redis.call('HGET', asset_key, 'supply')) -- nil: not counted yet (see above)
  local delta = amount
  if kind == 'withdrawal' then
    if available < amount then
      U.fail('INSUFFICIENT_FUNDS', 'available ' .. asset .. ' ' .. U.s(available) .. ' < ' .. U.s(amount))
    end
    delta = -amount
  elseif (supply or available + held) + amount >= U.MAX then
    U.fail('INVALID_AMOUNT', (supply and 'the supply of ' or 'the balance of ') .. asset
      .. ' would reach 2^53 minor units')
  end

  if supply then
    redis.call('HINCRBY', asset_key, 'supply', U.s(delta))
  end
  available = redis.call('HINCRBY', balance_key, asset .. ':available', U.s(delta))
  if held == 0 then
    redis.call('HSET', balance_key, asset .. ':held', '0')
  end
  local seq = U.s(redis.call('INCR', 'seq:wallet'))
  local a = U.s(account) -- the payload as in C.event: JSON of string values, nothing to escape
  redis.call('XADD', 'events:wallet', seq .. '-0', 'type', kind, 'ts', U.s(ts), 'data', '{"account":"' .. a
    .. '","asset":"' .. asset .. '","amount":"' .. U.s(amount) .. '","ref":"' .. ref .. '","ledger":"' .. a .. ','
    .. asset .. ',' .. U.s(delta) .. ',0"}', 'call', U.s(redis.call('INCR', 'seq:call')))
  local r = { account = account, asset = asset, amount = amount, available = available, held = held }
  local text = U.jobj(RESULT, r)
  redis.call('HSET', refs_key, ref, string.sub(text, 1, -2) .. ',"kind":"' .. kind .. '","seq":' .. seq .. '}')
  redis.call('PUBLISH', 'balances:' .. U.s(account), '[{"asset":' .. cjson.encode(asset) .. ',"available":'
    .. U.s(available) .. ',"held":' .. U.s(held) .. '}]')
  r.duplicate = false
  return r
end

function W.result(r)
  return string.sub(U.jobj(RESULT, r), 1, -2) .. ',"duplicate":' .. (r.duplicate and 'true' or 'false') .. '}'
end
