--[[
  ex_set_market_status: change a market's status; optionally cancel its resting orders (reason
  market_status) in book order, the bids best first and then the asks, at most U.CANCEL_BATCH (12) per call
  (a short call whatever the size of the book: callers loop until `remaining` is 0).

  KEYS[1] market:{SYM}
  (by name: book:/depth:/level:{SYM}:*, events:{SYM}, seq:call, order:{id}, open:{account}, balance:{account})
  ARGV[1] symbol
  ARGV[2] status         trading | cancel_only | halted
  ARGV[3] cancel_orders  0 | 1
  ARGV[4] ts_ms
  Result: JSON {"status", "previous", "cancelled", "remaining"}  (remaining: resting orders left, with
    cancel_orders; else 0)
  Errors: UNKNOWN_MARKET, INVALID_ARGUMENT
  Events (events:{SYM}): market_status (only when the status changes), order_cancelled...
  Publishes: market:{SYM} {"status": ...} on change
]]
local STATUSES = { trading = true, cancel_only = true, halted = true }

local function set_market_status(keys, args)
  local market_key = keys[1]
  local symbol, status, ts = args[1], args[2], U.uint(args[4])
  local ctx = C.new(U.s(ts or 0))
  local m = C.market(ctx, symbol)
  if not m or market_key ~= 'market:' .. symbol then
    U.fail('UNKNOWN_MARKET', 'no market ' .. symbol)
  end
  if not STATUSES[status] then
    U.fail('INVALID_ARGUMENT', 'status must be trading, cancel_only or halted')
  end
  if (args[3] ~= '0' and args[3] ~= '1') or not ts then
    U.fail('INVALID_ARGUMENT', 'cancel_orders must be 0 or 1 and ts_ms a non-negative integer')
  end
  local previous = m.status
  if status ~= previous then
    m.status = status
    redis.call('HSET', market_key, 'status', status)
    C.event(ctx, m, 'market_status', '{"status":"' .. status .. '","previous":"' .. previous .. '"}')
    redis.call('PUBLISH', 'market:' .. symbol, '{"status":' .. cjson.encode(status) .. '}')
  end
  local cancelled, remaining = 0, 0
  if args[3] == '1' then
    for _, side in ipairs({ 'bids', 'asks' }) do
      local book = side == 'bids' and m.k_bids or m.k_asks
      local members = redis.call('ZRANGE', book, 0, U.CANCEL_BATCH - cancelled - 1) -- best first, FIFO
      for i = 1, #members do
        M.close(ctx, m, O.load(tonumber(members[i])), 'cancelled', 'market_status', 'order_cancelled', true)
      end
      cancelled = cancelled + #members
      if cancelled == U.CANCEL_BATCH then
        break
      end
    end
    remaining = redis.call('ZCARD', m.k_bids) + redis.call('ZCARD', m.k_asks)
  end
  C.flush(ctx)
  return '{"status":' .. cjson.encode(status) .. ',"previous":' .. cjson.encode(previous) .. ',"cancelled":'
    .. U.s(cancelled) .. ',"remaining":' .. U.s(remaining) .. '}'
end

U.register('ex_set_market_status', set_market_status)
