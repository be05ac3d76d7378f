--[[
  ex_cancel_all: cancel the caller's open orders, optionally in one market, lowest id first, in short calls:
  each looks at most U.CANCEL_EXAMINE (100) open orders after the cursor and cancels at most U.CANCEL_BATCH
  (12) of them. Orders in halted markets (and, with a symbol, in other markets) are skipped: looked at, not
  cancelled. The caller loops, passing `next` back as after_id, until `remaining` is 0.

  KEYS[1] open:{account}
  (by name: order:{id}, market:{SYM}, book:/depth:/level:{SYM}:*, events:{SYM}, seq:call, balance:{account})
  ARGV[1] account   integer >= 1
  ARGV[2] symbol    '' = every market
  ARGV[3] ts_ms
  ARGV[4] after_id  '' or 0 = from the account's lowest open id; else only ids above it
  Result: JSON {"cancelled": n, "remaining": n, "next": id}: `next` is the last id looked at (after_id when
    none was), `remaining` how many of the account's open ids above it this call did not look at.
  Cost: one SORT of open:{account} (at most U.MAX_OPEN_ORDERS ids), at most 100 GETs and 12 cancels.
  Errors: INVALID_ARGUMENT, UNKNOWN_MARKET
  Events (events:{SYM} of each market): order_cancelled (reason user)
]]
-- the first position in the ascending list `ids` (texts) whose id is above `after` (binary search)
local function first_above(ids, after)
  local lo, hi = 1, #ids + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if tonumber(ids[mid]) <= after then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo
end

local function cancel_all(keys, args)
  local open_key = keys[1]
  local account, ts, symbol = U.uint(args[1]), U.uint(args[3]), args[2]
  local after = U.uint0(args[4] or '')
  if not account or account < 1 or not ts or not after or open_key ~= 'open:' .. args[1] then
    U.fail('INVALID_ARGUMENT', 'account must be a positive integer, ts_ms and after_id non-negative ones')
  end
  local ctx = C.new(U.s(ts))
  if symbol ~= '' and not C.market(ctx, symbol) then
    U.fail('UNKNOWN_MARKET', 'no market ' .. symbol)
  end
  local ids = redis.call('SORT', open_key) -- numeric, ascending, in C
  local prefix = args[1] .. '|' .. symbol .. '|' -- a record starts with "account|symbol|"
  local i = first_above(ids, after)
  local last, looked, cancelled = after, 0, 0
  while i <= #ids and looked < U.CANCEL_EXAMINE and cancelled < U.CANCEL_BATCH do
    local id = tonumber(ids[i])
    looked, last, i = looked + 1, id, i + 1
    local rec = redis.call('GET', 'order:' .. ids[i - 1]) -- read once: to filter by market, then to cancel
    if rec and (symbol == '' or string.sub(rec, 1, #prefix) == prefix) then
      local o = O.parse(id, rec)
      local m = C.market(ctx, o.symbol)
      if m.status ~= 'halted' then
        M.close(ctx, m, o, 'cancelled', 'user', 'order_cancelled', true)
        cancelled = cancelled + 1
      end
    end
  end
  C.flush(ctx)
  return '{"cancelled":' .. U.s(cancelled) .. ',"remaining":' .. U.s(#ids - i + 1) .. ',"next":' .. U.s(last)
    .. '}'
end

U.register('ex_cancel_all', cancel_all)
