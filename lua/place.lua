--[[
  ex_place: validate, hold, match, settle and rest (or close) one order, atomically.

  KEYS[1] market:{SYM}
  KEYS[2] balance:{account}
  KEYS[3] coid:{account}
  (by name, discovered while matching: book:/depth:/level:{SYM}:*, events:{SYM}, trades:{SYM},
   order:{id}, open:{account} (the caller's too: its size) and balance:{account} of counterparties,
   balance:0, seq:order, seq:trade, seq:call)
  ARGV[1]  account         integer >= 1
  ARGV[2]  symbol
  ARGV[3]  side            buy | sell
  ARGV[4]  type            limit | market
  ARGV[5]  tif             gtc | ioc | fok ('' = gtc; ignored for market orders, stored as ioc)
  ARGV[6]  price_ticks     limit: > 0; market: '' or 0
  ARGV[7]  qty_lots        '' or 0 when by quote
  ARGV[8]  quote_qty       minor units, market orders by quote only ('' or 0 otherwise): a buy spends it,
                           fees included; a sell sells the base worth it (notional, before its fee)
  ARGV[9]  post_only       0 | 1
  ARGV[10] stp             cancel_maker | cancel_taker | cancel_both ('' = cancel_maker)
  ARGV[11] client_order_id '' or 1..36 of [A-Za-z0-9_-]
  ARGV[12] ts_ms
  Result: JSON {"order": "{id} {record}", "fills": [fill...], "stp": [order ids], "duplicate": bool}
    (the order as its record, lib/03_order.lua; exchange/engine/codec.py parse_place makes the object)
  Errors (first failing wins, nothing written): UNKNOWN_MARKET, MARKET_NOT_TRADING, INVALID_SIDE,
    INVALID_TYPE, INVALID_TIF, INVALID_STP, INVALID_PRICE, PRICE_TOO_HIGH, INVALID_QTY, QTY_TOO_SMALL,
    QTY_TOO_LARGE (also: the order's hold would reach 2^53), NOTIONAL_TOO_SMALL, INVALID_POST_ONLY,
    INVALID_ARGUMENT (account, ts_ms, client_order_id), DUPLICATE_CLIENT_ORDER_ID, TOO_MANY_OPEN_ORDERS (a gtc
    limit order while the account has U.MAX_OPEN_ORDERS open), PRICE_OUT_OF_BAND (a limit order priced beyond
    the market's price band around the best opposite price) | NOTIONAL_TOO_SMALL (a market order by qty: its
    notional at the best opposite price) (neither is checked on an empty side), QTY_TOO_LARGE (the hold),
    INSUFFICIENT_FUNDS
  Events (events:{SYM}): order_rejected (post-only) | order_accepted, trade..., order_cancelled (STP makers),
    order_done (filled makers' leftover), then the taker's order_expired | order_cancelled | order_done.
    A market order that meets a maker beyond the market's price band stops there: order_expired, reason
    price_band.
]]
local SIDES = { buy = true, sell = true }
local TYPES = { limit = true, market = true }
local TIFS = { gtc = true, ioc = true, fok = true }
local STPS = { cancel_maker = true, cancel_taker = true, cancel_both = true }
local SAME_FIELDS = { 'symbol', 'side', 'type', 'tif', 'price', 'qty', 'quote_qty', 'post_only', 'stp' }

local function result(o, fills, stp_ids, duplicate)
  return '{"order":"' .. O.line(o) .. '","fills":[' .. table.concat(fills, ',') .. '],"stp":['
    .. table.concat(stp_ids, ',') .. '],"duplicate":' .. (duplicate and 'true' or 'false') .. '}'
end

-- parse and validate everything; returns the new order table (not yet written) and the market
local function validate(ctx, keys, args)
  local m = C.market(ctx, args[2])
  if not m or keys[1] ~= 'market:' .. args[2] then
    U.fail('UNKNOWN_MARKET', 'no market ' .. args[2])
  end
  if m.status ~= 'trading' then
    U.fail('MARKET_NOT_TRADING', 'market ' .. m.symbol .. ' is ' .. m.status)
  end
  local side, otype = args[3], args[4]
  local tif = args[5] == '' and 'gtc' or args[5]
  local stp = args[10] == '' and 'cancel_maker' or args[10]
  if not SIDES[side] then
    U.fail('INVALID_SIDE', 'side must be buy or sell')
  end
  if not TYPES[otype] then
    U.fail('INVALID_TYPE', 'type must be limit or market')
  end
  if not TIFS[tif] then
    U.fail('INVALID_TIF', 'tif must be gtc, ioc or fok')
  end
  if not STPS[stp] then
    U.fail('INVALID_STP', 'stp must be cancel_maker, cancel_taker or cancel_both')
  end
  local limit = otype == 'limit'
  local price = U.amount0(args[6])
  if limit then
    if not price or price <= 0 then
      U.fail('INVALID_PRICE', 'a limit order needs a positive integer price_ticks')
    end
  elseif price ~= 0 then
    U.fail('INVALID_PRICE', 'a market order takes no price')
  end
  if price > m.max_price_ticks then
    U.fail('PRICE_TOO_HIGH', 'price_ticks above ' .. U.s(m.max_price_ticks))
  end
  local qty, quote_qty = U.amount0(args[7]), U.amount0(args[8])
  if not qty or not quote_qty then
    U.fail('INVALID_QTY', 'qty_lots and quote_qty must be non-negative integers')
  end
  if limit and (qty == 0 or quote_qty ~= 0) then
    U.fail('INVALID_QTY', 'a limit order needs qty_lots > 0 and no quote_qty')
  end
  if not limit and (qty == 0) == (quote_qty == 0) then
    U.fail('INVALID_QTY', 'a market order needs exactly one of qty_lots and quote_qty')
  end
  if qty > 0 and qty < m.min_lots then
    U.fail('QTY_TOO_SMALL', 'qty_lots below ' .. U.s(m.min_lots))
  end
  if qty > m.max_lots then
    U.fail('QTY_TOO_LARGE', 'qty_lots above ' .. U.s(m.max_lots))
  end
  if limit and U.mul_div(price * qty * m.num, 1, m.den) < m.min_notional_minor then
    U.fail('NOTIONAL_TOO_SMALL', 'notional below ' .. U.s(m.min_notional_minor))
  end
  if quote_qty > 0 and quote_qty < m.min_notional_minor then
    U.fail('NOTIONAL_TOO_SMALL', 'quote_qty below ' .. U.s(m.min_notional_minor))
  end
  local post_only = args[9] == '1' and 1 or 0
  if args[9] ~= '1' and args[9] ~= '0' and args[9] ~= '' then
    U.fail('INVALID_ARGUMENT', 'post_only must be 0 or 1')
  end
  if post_only == 1 and (not limit or tif ~= 'gtc') then
    U.fail('INVALID_POST_ONLY', 'post_only needs a gtc limit order')
  end
  local account = U.uint(args[1])
  if not account or account < 1 or keys[2] ~= 'balance:' .. args[1] or keys[3] ~= 'coid:' .. args[1] then
    U.fail('INVALID_ARGUMENT', 'account must be a positive integer')
  end
  if not U.uint(args[12]) then
    U.fail('INVALID_ARGUMENT', 'ts_ms must be a non-negative integer')
  end
  local coid = args[11]
  if coid ~= '' and (#coid > 36 or not string.find(coid, '^[%w_%-]+$')) then
    U.fail('INVALID_ARGUMENT', 'client_order_id must be 1..36 of [A-Za-z0-9_-]')
  end
  return m, {
    id = 0, ids = '', account = U.s(account), symbol = m.symbol, side = side, type = otype,
    tif = limit and tif or 'ioc', price = price, qty = qty, quote_qty = quote_qty, filled = 0, quote_filled = 0,
    hold = 0, hold_asset = side == 'buy' and m.quote or m.base, status = 'open', reason = '',
    post_only = post_only, stp = stp, client_order_id = coid, created_ms = ctx.ts, updated_ms = ctx.ts,
    touched = false, new = true, fills = {}, stp_ids = {}, rem = qty, cost = 0, budget = false, head = '',
    rec = '', band = false, -- (and touch, once check_touch has read it)
  }
end

-- a retry with the same client_order_id: the original order if the fields agree
local function duplicate(coid_key, t)
  local id = redis.call('HGET', coid_key, t.client_order_id)
  if not id then
    return nil
  end
  local o = O.load(tonumber(id))
  if o then
    O.full(o)
  end
  if not o then -- a closed order whose record persistence already expired: the id stays taken
    U.fail('DUPLICATE_CLIENT_ORDER_ID', 'client_order_id ' .. t.client_order_id .. ' was used by order ' .. id
      .. ', which is closed and no longer in Redis')
  end
  for _, f in ipairs(SAME_FIELDS) do
    if o[f] ~= t[f] then
      U.fail('DUPLICATE_CLIENT_ORDER_ID', 'client_order_id ' .. t.client_order_id .. ' was used with other fields')
    end
  end
  return o
end

-- the checks against the touch (the best opposite price), in one ZRANGE (BK.best) read only when a check
-- needs it: a limit order beyond the price band is PRICE_OUT_OF_BAND; a market order gets its band bound
-- (t.band, where M.run stops it); a market order by qty needs its notional at the touch (the best price it
-- can get) to reach the minimum. None applies when that side is empty. They read the book, so they come
-- after every argument check and a retry's answer. t.touch keeps what was read (false: the side is empty)
-- so the rest of the call need not read it again.
local function check_touch(m, t)
  local band = m.price_band_bps
  local by_qty = t.type == 'market' and t.qty > 0 and m.min_notional_minor > 0
  if band == 0 and not by_qty then
    return
  end
  local best = BK.best(m, t.side)
  t.touch = best or false
  if not best then
    return
  end
  if band > 0 then
    local buy = t.side == 'buy'
    local bound = best * (buy and 10000 + band or 10000 - band) -- < 2^53: ex_create_market
    if t.type == 'market' then
      t.band = bound
    elseif buy and t.price * 10000 > bound or not buy and t.price * 10000 < bound then
      U.fail('PRICE_OUT_OF_BAND', 'price_ticks ' .. U.s(t.price) .. ' beyond ' .. U.s(band)
        .. ' bps of the best opposite price ' .. U.s(best))
    end
  end
  if by_qty and U.mul_div(best * t.qty * m.num, 1, m.den) < m.min_notional_minor then
    U.fail('NOTIONAL_TOO_SMALL', 'notional at the best price ' .. U.s(best) .. ' below '
      .. U.s(m.min_notional_minor))
  end
end

-- does the taker cross the opposite side? From the touch when check_touch read it, else one bounded read
local function crosses(m, t)
  local touch = t.touch
  if touch == nil then
    return BK.crosses(m, t.side, t.price)
  end
  if not touch then
    return false
  end
  return t.type == 'market' or (t.side == 'buy' and touch <= t.price) or (t.side == 'sell' and touch >= t.price)
end

-- the amount to hold; a market buy by qty dry-runs the matching loop for its exact cost, a market sell by
-- quote for the exact base it sells
local function hold_for(ctx, m, t)
  local h
  if t.side == 'sell' and t.quote_qty > 0 then
    if t.quote_qty >= U.MAX then
      U.fail('QTY_TOO_LARGE', 'quote_qty must stay below 2^53 minor units')
    end
    local dry = { side = t.side, account = t.account, stp = t.stp, price = 0, qty = 0, rem = 0, cost = 0,
      band = t.band, budget = t.quote_qty }
    M.run(ctx, m, dry, true)
    h = dry.cost
  elseif t.side == 'sell' then
    h = t.qty * m.lot_minor
  elseif t.quote_qty > 0 then
    h = t.quote_qty
  elseif t.type == 'market' then
    local dry = { side = t.side, account = t.account, stp = t.stp, price = 0, qty = t.qty, rem = t.qty, cost = 0,
      band = t.band }
    M.run(ctx, m, dry, true)
    h = dry.cost
  else
    local per_lot = U.mul_div_up(t.price * m.num, 10000 + m.taker_bps, m.den * 10000)
    if per_lot * t.qty >= U.MAX then
      U.fail('QTY_TOO_LARGE', 'the hold of this order would exceed 2^53 minor units')
    end
    h = per_lot * t.qty
  end
  if h >= U.MAX then
    U.fail('QTY_TOO_LARGE', 'the hold of this order would exceed 2^53 minor units')
  end
  return h
end

local function place(keys, args)
  local balance_key, coid_key = keys[2], keys[3] -- keys[1] (market) is read by validate
  local ctx = C.new(U.s(U.uint(args[12]) or 0))
  local m, t = validate(ctx, keys, args)
  if t.client_order_id ~= '' then
    local o = duplicate(coid_key, t)
    if o then
      return result(o, {}, {}, true)
    end
  end
  if t.tif == 'gtc' and t.type == 'limit' and redis.call('SCARD', 'open:' .. t.account) >= U.MAX_OPEN_ORDERS then
    U.fail('TOO_MANY_OPEN_ORDERS', 'the account already has ' .. U.s(U.MAX_OPEN_ORDERS)
      .. ' open orders, the most it may hold (ioc, fok and market orders still go)')
  end
  check_touch(m, t)
  local hold = hold_for(ctx, m, t)
  local fa, fh = t.hold_asset .. ':available', t.hold_asset .. ':held'
  local bal = redis.call('HMGET', balance_key, fa, fh)
  local available = tonumber(bal[1]) or 0
  C.known(ctx, t.account, fa, available, fh, tonumber(bal[2]) or 0)
  if available < hold then
    U.fail('INSUFFICIENT_FUNDS', 'available ' .. t.hold_asset .. ' ' .. U.s(available) .. ' < ' .. U.s(hold))
  end

  -- validated: from here on every step writes
  t.id = redis.call('INCR', 'seq:order')
  t.ids = U.s(t.id)
  t.head = O.head(t)
  if t.client_order_id ~= '' then
    redis.call('HSET', coid_key, t.client_order_id, t.ids)
  end
  if t.post_only == 1 and crosses(m, t) then
    t.status, t.reason = 'rejected', 'post_only_would_take'
    C.event(ctx, m, 'order_rejected', '{"order_id":"' .. t.ids .. '","account":"' .. t.account
      .. '","reason":"' .. t.reason .. '","status":"' .. t.status .. '"}')
    O.save(t)
    C.touch(ctx, t)
    C.flush(ctx)
    return result(t, {}, {}, false)
  end

  local ledger = hold > 0 and C.move(ctx, t.account, t.hold_asset, -hold, hold) or ''
  t.hold = hold
  local s = U.s
  C.event(ctx, m, 'order_accepted', '{"order_id":"' .. t.ids .. '","account":"' .. t.account .. '","side":"'
    .. t.side .. '","order_type":"' .. t.type .. '","tif":"' .. t.tif .. '","price":"' .. s(t.price)
    .. '","qty":"' .. s(t.qty) .. '","quote_qty":"' .. s(t.quote_qty) .. '","post_only":"' .. s(t.post_only)
    .. '","stp":"' .. t.stp .. '","client_order_id":"' .. t.client_order_id .. '","hold_asset":"'
    .. t.hold_asset .. '","hold":"' .. s(hold) .. '","status":"' .. t.status .. '","ledger":"' .. ledger .. '"}')

  local stop
  if t.touch ~= nil and not crosses(m, t) then
    -- check_touch read the touch and nothing crosses: no walk (a fok order then cannot fill)
    stop = t.tif == 'fok' and 'fok_unfilled' or 'book'
  elseif t.tif == 'fok' then
    local dry = { side = t.side, account = t.account, stp = t.stp, price = t.price, qty = t.qty, rem = t.qty,
      cost = 0 }
    if M.run(ctx, m, dry, true) ~= 'done' then
      stop = 'fok_unfilled'
    end
  end
  if not stop then
    if t.quote_qty > 0 then
      t.budget = t.quote_qty
    end
    stop = M.run(ctx, m, t, false)
  end

  if stop == 'done' or (stop == 'budget' and t.filled > 0) then
    t.status = 'filled'
    -- an order by quote amount learns it is filled only here (its trades said partially_filled), so it
    -- always reports it, even with nothing left to release (a budget spent to the last unit)
    if t.hold > 0 or t.quote_qty > 0 then
      M.close(ctx, m, t, 'filled', '', 'order_done', false)
    end
  elseif stop == 'stp' then
    t.stp_ids[#t.stp_ids + 1] = t.ids
    M.close(ctx, m, t, 'cancelled', 'stp', 'order_cancelled', false)
  elseif stop == 'fok_unfilled' or stop == 'budget' then
    M.close(ctx, m, t, 'expired', stop, 'order_expired', false)
  elseif stop == 'cap' then
    M.close(ctx, m, t, 'expired', 'max_makers', 'order_expired', false)
  elseif stop == 'band' then
    M.close(ctx, m, t, 'expired', 'price_band', 'order_expired', false)
  elseif t.type == 'market' then
    M.close(ctx, m, t, 'expired', 'market', 'order_expired', false)
  elseif t.tif ~= 'gtc' then
    M.close(ctx, m, t, 'expired', 'ioc', 'order_expired', false)
  else
    BK.add(ctx, m, t)
  end
  O.save(t)
  C.touch(ctx, t)
  C.flush(ctx)
  return result(t, t.fills, t.stp_ids, false)
end

U.register('ex_place', place)
