--[[
  match: the matching loop, trade settlement and closing orders.

  Rounding (docs/engine.md): X = price * qty * num (exact, < 2^53)
    notional    = floor(X / den)
    buyer_pays  = ceil(X * (10000 + fb) / (den * 10000))
    seller_gets = floor(X * (10000 - fs) / (den * 10000))
  The taker pays taker_bps, the maker maker_bps.

  The loop walks the opposite book best-first (ZRANGEBYSCORE bounded by the taker's limit, in growing batches).
  For each maker, in this order:
    0. a market order stops ('band') at a maker priced beyond its price band (t.band, set by ex_place: a buy
       stops when price * 10000 > t.band = touch * (10000 + band), a sell when price * 10000 < t.band =
       touch * (10000 - band)): the band is a bound of the walk, like a limit order's price;
    1. a market order by quote stops ('budget') if its budget cannot pay for one lot at the maker's price
       (a buy: the lot's cost, taker fee included; a sell: the lot's notional);
    2. the taker stops ('cap') when MAX_MAKERS makers were already touched (filled or STP-cancelled);
    3. a maker of the taker's own account is handled by the taker's STP mode
       (cancel_maker: cancel it and go on; cancel_taker: stop ('stp'); cancel_both: cancel it and stop);
    4. otherwise they trade min(taker remainder, maker remainder) lots (by quote: as many as the budget pays,
       or, for a sell, as many as it is worth).
  Other stops: 'done' (nothing left to fill), 'book' (no more makers within the limit).
  (A limit order needs no band check here: ex_place refused it if its price lay beyond the band, and every
  maker it crosses is priced between the touch and its price.)
  A dry run (FOK check, market buy by qty cost, market sell by quote base) walks the same loop without
  writing.
]]
local FETCH, FETCH_MAX = 2, 32 -- makers read per ZRANGEBYSCORE: 2, then doubling (most takers meet one or two)

function M.amounts(m, price, q, buyer_bps, seller_bps)
  local x = price * q * m.num
  local notional = U.mul_div(x, 1, m.den)
  local d = m.den * 10000
  local pays = U.mul_div_up(x, 10000 + buyer_bps, d)
  local gets = U.mul_div(x, 10000 - seller_bps, d)
  return notional, pays, gets
end

-- what a buyer paying `bps` pays for q lots at price
function M.cost(m, price, q, bps)
  return U.mul_div_up(price * q * m.num, 10000 + bps, m.den * 10000)
end

-- the most lots (<= max_q) a budget pays for at price, fees included
function M.affordable(m, price, budget, bps, max_q)
  local per_lot = price * m.num * (10000 + bps) / (m.den * 10000)
  local q = math.floor(budget / per_lot)
  if q > max_q then
    q = max_q
  end
  while q > 0 and M.cost(m, price, q, bps) > budget do
    q = q - 1
  end
  while q < max_q and M.cost(m, price, q + 1, bps) <= budget do
    q = q + 1
  end
  return q
end

-- the most lots (<= max_q) whose notional at price fits in budget: what a sell by quote takes there
function M.sellable(m, price, budget, max_q)
  local q = math.floor(budget * m.den / (price * m.num))
  if q > max_q then
    q = max_q
  end
  while q > 0 and U.mul_div(price * q * m.num, 1, m.den) > budget do
    q = q - 1
  end
  while q < max_q and U.mul_div(price * (q + 1) * m.num, 1, m.den) <= budget do
    q = q + 1
  end
  return q
end

-- close an order (status cancelled/expired, or filled via 'order_done'), releasing its whole hold
function M.close(ctx, m, o, status, reason, etype, resting)
  local released = o.hold
  local ledger = released > 0 and C.move(ctx, o.account, o.hold_asset, released, -released) or ''
  if resting then
    BK.remove(ctx, m, o)
  end
  o.hold, o.status, o.updated_ms = 0, status, ctx.ts
  local why = ''
  if etype ~= 'order_done' then
    o.reason = reason
    why = '","reason":"' .. reason
  end
  C.event(ctx, m, etype, '{"order_id":"' .. o.ids .. '","account":"' .. o.account .. why .. '","status":"'
    .. status .. '","filled":"' .. U.s(o.filled) .. '","released":"' .. U.s(released) .. '","ledger":"'
    .. ledger .. '"}')
  if not o.new then
    O.save(o)
  end
  C.touch(ctx, o)
end

-- settle one trade of q lots at the maker's price between taker t and maker mk
function M.trade(ctx, m, t, mk, price, q)
  local buy = t.side == 'buy'
  local buyer, seller = t, mk
  local buyer_bps, seller_bps = m.taker_bps, m.maker_bps
  if not buy then
    buyer, seller = mk, t
    buyer_bps, seller_bps = m.maker_bps, m.taker_bps
  end
  local notional, pays, gets = M.amounts(m, price, q, buyer_bps, seller_bps)
  local base = q * m.lot_minor
  local ledger = C.move(ctx, buyer.account, m.quote, 0, -pays) .. ';' .. C.move(ctx, buyer.account, m.base, base, 0)
    .. ';' .. C.move(ctx, seller.account, m.base, 0, -base) .. ';' .. C.move(ctx, seller.account, m.quote, gets, 0)
  if pays > gets then
    ledger = ledger .. ';' .. C.move(ctx, '0', m.quote, pays - gets, 0)
  end
  buyer.hold = buyer.hold - pays
  seller.hold = seller.hold - base
  mk.filled, t.filled = mk.filled + q, t.filled + q
  mk.quote_filled, t.quote_filled = mk.quote_filled + notional, t.quote_filled + notional
  mk.updated_ms, t.updated_ms = ctx.ts, ctx.ts
  mk.status = mk.filled == mk.qty and 'filled' or 'partially_filled'
  t.status = (t.qty > 0 and t.filled == t.qty) and 'filled' or 'partially_filled'
  C.level(ctx, m, not buy, price, -q, 0)

  local s = U.s
  local ids, ps, qs, ns = s(C.next_trade_id(ctx)), s(price), s(q), s(notional)
  local buyer_fee, seller_fee = pays - notional, notional - gets
  C.event(ctx, m, 'trade', '{"trade_id":"' .. ids .. '","price":"' .. ps .. '","qty":"' .. qs
    .. '","taker_side":"' .. t.side .. '","maker_order_id":"' .. mk.ids .. '","taker_order_id":"' .. t.ids
    .. '","maker_account":"' .. mk.account .. '","taker_account":"' .. t.account .. '","notional":"' .. ns
    .. '","buyer_fee":"' .. s(buyer_fee) .. '","seller_fee":"' .. s(seller_fee) .. '","maker_status":"'
    .. mk.status .. '","maker_filled":"' .. s(mk.filled) .. '","maker_hold":"' .. s(mk.hold)
    .. '","taker_status":"' .. t.status .. '","taker_filled":"' .. s(t.filled) .. '","taker_hold":"'
    .. s(t.hold) .. '","ledger":"' .. ledger .. '"}')
  m.trades[#m.trades + 1] = '{"id":' .. ids .. ',"price":' .. ps .. ',"qty":' .. qs .. ',"side":"' .. t.side
    .. '","ts":' .. ctx.ts .. '}'
  t.fills[#t.fills + 1] = '{"trade_id":' .. ids .. ',"price":' .. ps .. ',"qty":' .. qs .. ',"notional":' .. ns
    .. ',"fee":' .. s(buy and buyer_fee or seller_fee) .. ',"maker_order_id":' .. mk.ids
    .. ',"liquidity":"taker","ts":' .. ctx.ts .. '}'
  if mk.status == 'filled' then
    BK.remove(ctx, m, mk)
    if mk.hold > 0 then
      M.close(ctx, m, mk, 'filled', '', 'order_done', false)
      return
    end
  end
  O.save(mk)
  C.touch(ctx, mk)
end

--[[
  Run taker t against the book. t: side, account, stp, price (0: market), qty (0: by quote),
  rem (lots left to fill, by qty) or budget (quote minor left, by quote), band (false, or the band bound
  above), id, filled, hold, fills, stp_ids.
  dry: no writes; t.rem / t.budget still count down, and t.cost sums what the taker would give (quote minor
  units with the taker fee for a buy, base minor units for a sell).
  Returns the stop reason: 'done' | 'book' | 'band' | 'cap' | 'stp' | 'budget'.
]]
function M.run(ctx, m, t, dry)
  local buy = t.side == 'buy'
  local band = t.band
  local opp, hi = BK.opposite(m, t.side, t.price)
  local taker_bps = m.taker_bps
  local touched, seen, want = 0, 0, FETCH
  while true do
    -- members only (the price is in the maker's record); a wet run removes what it consumed, so it reads
    -- from the top again, a dry run reads on from what it has seen
    local batch = redis.call('ZRANGEBYSCORE', opp, '-inf', hi, 'LIMIT', dry and seen or 0, want)
    for i = 1, #batch do
      seen = seen + 1
      local id = tonumber(batch[i])
      local mk = O.load(id)
      local price = mk.price
      if band and (buy and price * 10000 > band or not buy and price * 10000 < band) then
        return 'band'
      end
      if t.budget and (buy and M.cost(m, price, 1, taker_bps) or U.mul_div(price * m.num, 1, m.den))
          > t.budget then
        return 'budget'
      end
      if touched >= U.MAX_MAKERS then
        return 'cap'
      end
      if mk.account == t.account then
        if t.stp == 'cancel_taker' then
          return 'stp'
        end
        touched = touched + 1
        if not dry then
          M.close(ctx, m, mk, 'cancelled', 'stp', 'order_cancelled', true)
          t.stp_ids[#t.stp_ids + 1] = mk.ids
        end
        if t.stp == 'cancel_both' then
          return 'stp'
        end
      else
        local left = mk.qty - mk.filled
        local q
        if t.budget then
          q = buy and M.affordable(m, price, t.budget, taker_bps, left) or M.sellable(m, price, t.budget, left)
        else
          q = t.rem < left and t.rem or left
        end
        touched = touched + 1
        local pays -- what the taker gives: quote with the fee for a buy; for a sell its budget counts notional
        if buy then
          pays = M.cost(m, price, q, taker_bps)
          t.cost = t.cost + pays
        else
          t.cost = t.cost + q * m.lot_minor
          pays = t.budget and U.mul_div(price * q * m.num, 1, m.den)
        end
        if not dry then
          M.trade(ctx, m, t, mk, price, q)
        end
        if t.budget then
          t.budget = t.budget - pays
          if q < left then
            return 'budget' -- the budget stopped inside this maker: it cannot pay one more lot here
          end
        else
          t.rem = t.rem - q
          if t.rem == 0 then
            return 'done'
          end
        end
      end
    end
    if #batch < want then
      return 'book'
    end
    if want < FETCH_MAX then
      want = want * 2
    end
  end
end
