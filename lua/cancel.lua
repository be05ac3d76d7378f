--[[
  ex_cancel: cancel one open order of the caller, releasing its whole remaining hold.

  KEYS[1] order:{id}
  KEYS[2] open:{account}
  (by name: market:{SYM}, book:/depth:/level:{SYM}:*, events:{SYM}, seq:call, balance:{account})
  ARGV[1] account   integer >= 1
  ARGV[2] order_id
  ARGV[3] ts_ms
  Result: "{id} {record}" of the order (status cancelled, reason user; lib/03_order.lua)
  Errors: INVALID_ARGUMENT, UNKNOWN_ORDER (no such order, or another account's), MARKET_HALTED, ORDER_CLOSED
  Events (events:{SYM}): order_cancelled (reason user)
]]
local function cancel(keys, args)
  local order_key = keys[1] -- open:{account} (keys[2]) is maintained by BK.remove
  local account, id, ts = U.uint(args[1]), U.uint(args[2]), U.uint(args[3])
  if not account or not id or not ts or order_key ~= O.key(id) then
    U.fail('INVALID_ARGUMENT', 'account, order_id and ts_ms must be non-negative integers')
  end
  local o = O.load(id)
  if not o or o.account ~= U.s(account) then
    U.fail('UNKNOWN_ORDER', 'no order ' .. args[2])
  end
  local ctx = C.new(U.s(ts))
  local m = C.market(ctx, o.symbol)
  if m.status == 'halted' then
    U.fail('MARKET_HALTED', 'market ' .. m.symbol .. ' is halted')
  end
  if not O.is_open(o) then
    U.fail('ORDER_CLOSED', 'order ' .. args[2] .. ' is ' .. o.status)
  end
  M.close(ctx, m, o, 'cancelled', 'user', 'order_cancelled', true)
  C.flush(ctx)
  return O.line(o)
end

U.register('ex_cancel', cancel)
