--[[
  ex_cancel_all: cancel the caller's open orders, optionally in one market, lowest id first,
  at most U.BATCH (1,000) per call. Orders in halted markets are skipped (not cancelled, not counted as
  cancelled).

  KEYS[1] open:{account}
  (by name: order:{id}, market:{SYM}, book:/depth:/level:{SYM}:*, events:{SYM}, balance:{account})
  ARGV[1] account   integer >= 1
  ARGV[2] symbol    '' = every market
  ARGV[3] ts_ms
  Result: JSON {"cancelled": n, "remaining": n}: remaining counts the account's open orders not examined
    because the batch was full (an upper bound: some may be in other or halted markets); callers loop
    until it is 0. At most U.BATCH orders are cancelled per call.
  Errors: INVALID_ARGUMENT, UNKNOWN_MARKET
  Events (events:{SYM} of each market): order_cancelled (reason user)
]]
local function cancel_all(keys, args)
  local open_key = keys[1]
  local account, ts, symbol = U.uint(args[1]), U.uint(args[3]), args[2]
  if not account or not ts or open_key ~= 'open:' .. args[1] then
    U.fail('INVALID_ARGUMENT', 'account and ts_ms must be non-negative integers')
  end
  local ctx = C.new(U.s(ts))
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
  for i, id in ipairs(wanted) do
    if cancelled == U.BATCH then
      remaining = #wanted - i + 1 -- not examined yet (bounded work per call): the caller calls again
      break
    end
    local o = O.load(id)
    if symbol == '' or o.symbol == symbol then
      local m = C.market(ctx, o.symbol)
      if m.status ~= 'halted' then
        M.close(ctx, m, o, 'cancelled', 'user', 'order_cancelled', true)
        cancelled = cancelled + 1
      end
    end
  end
  C.flush(ctx)
  return '{"cancelled":' .. U.s(cancelled) .. ',"remaining":' .. U.s(remaining) .. '}'
end

U.register('ex_cancel_all', cancel_all)
