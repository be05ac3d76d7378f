--[[
  ex_cancel_all: cancel the caller's open orders, optionally in one market, lowest id first,
  at most U.BATCH (1,000) per call. Orders in halted markets are skipped (and not counted).

  KEYS[1] open:{account}
  (by name: order:{id}, market:{SYM}, book:/depth:/levels:{SYM}:*, events:{SYM}, balance:{account})
  ARGV[1] account   integer >= 1
  ARGV[2] symbol    '' = every market
  ARGV[3] ts_ms
  Result: JSON {"cancelled": n, "remaining": n}  (remaining: still cancellable; callers loop)
  Errors: INVALID_ARGUMENT, UNKNOWN_MARKET
  Events (events:{SYM} of each market): order_cancelled (reason user)
]]
local function cancel_all(keys, args)
  local open_key = keys[1]
  local account, ts, symbol = U.uint(args[1]), U.uint(args[3]), args[2]
  if not account or not ts or open_key ~= 'open:' .. args[1] then
    U.fail('INVALID_ARGUMENT', 'account and ts_ms must be non-negative integers')
  end
  local ctx = C.new(ts)
  if symbol ~= '' and not C.market(ctx, symbol) then
    U.fail('UNKNOWN_MARKET', 'no market ' .. symbol)
  end
  local ids = redis.call('SMEMBERS', open_key)
  local wanted = {}
  for i = 1, #ids do
    wanted[i] = tonumber(ids[i])
  end
  table.sort(wanted)
  local cancelled, remaining = 0, 0
  for _, id in ipairs(wanted) do
    local o = O.load(id)
    if symbol == '' or o.symbol == symbol then
      local m = C.market(ctx, o.symbol)
      if m.status ~= 'halted' then
        if cancelled < U.BATCH then
          M.close(ctx, m, o, 'cancelled', 'user', 'order_cancelled', true)
          cancelled = cancelled + 1
        else
          remaining = remaining + 1
        end
      end
    end
  end
  C.flush(ctx)
  return '{"cancelled":' .. U.s(cancelled) .. ',"remaining":' .. U.s(remaining) .. '}'
end

U.register('ex_cancel_all', cancel_all)
