--[[
  ctx: the state of one call. Reads are cached, writes that many steps touch (balances, book levels,
  market sequences, the trade sequence) are accumulated and flushed once by C.flush, which also PUBLISHes
  the live notifications of the call:
    book:{SYM}        {"seq": book_seq, "bids": [[price, qty]...], "asks": [...]}  (absolute, 0 removes)
    trades:{SYM}      [{"id","price","qty","side","ts"}...]
    orders:{account}  one line "{id} {record}" per order (lib/03_order.lua), joined by newlines
    balances:{account} [{"asset","available","held"}...]
  Events (XADD) are written immediately, in order, by C.event.

  Cost model (measured with callgrind): a Redis call costs little next to the Lua around it, and in Lua
  what costs is making tables and strings and converting numbers (tonumber, string.format). So values that
  only pass through (account ids, timestamps) stay text, each JSON text is one concatenation, and orders
  leave the engine as their stored record (Python makes the order object).
]]

-- The market hash keeps every field readable, and `matching` packs the ones a call needs (written by
-- ex_create_market) so one short HMGET reads a market: MATCHING lists them, space-separated, in order.
local MATCHING = { 'base', 'quote', 'lot_minor', 'num', 'den', 'min_lots', 'max_lots', 'max_price_ticks',
  'min_notional_minor', 'maker_bps', 'taker_bps', 'price_band_bps' }
C.MATCHING = MATCHING
-- one capture per name of MATCHING; a market written before price_band_bps existed has the first 11 only
-- (its band is 0 until its next ex_create_market)
local MATCHING_PATTERN = '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$'
local MATCHING_PATTERN_11 = '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$'
-- `matching` text -> its parsed values. A pure function of the text read in this call (a changed market
-- has a different text), so keeping it between calls changes no result; it only skips the parsing.
local SPECS, n_specs = {}, 0

local function spec_of(text)
  local p = SPECS[text]
  if p then
    return p
  end
  local base, quote, lot_minor, num, den, min_lots, max_lots, max_price_ticks, min_notional_minor, maker_bps,
    taker_bps, price_band_bps = string.match(text, MATCHING_PATTERN)
  if not base then
    base, quote, lot_minor, num, den, min_lots, max_lots, max_price_ticks, min_notional_minor, maker_bps,
      taker_bps = string.match(text, MATCHING_PATTERN_11)
    price_band_bps = '0'
  end
  p = { base, quote, tonumber(lot_minor), tonumber(num), tonumber(den), tonumber(min_lots), tonumber(max_lots),
    tonumber(max_price_ticks), tonumber(min_notional_minor), tonumber(maker_bps), tonumber(taker_bps),
    tonumber(price_band_bps) }
  if n_specs >= 1000 then -- bounded (markets are few; this never happens in practice)
    SPECS, n_specs = {}, 0
  end
  SPECS[text], n_specs = p, n_specs + 1
  return p
end

-- ts: the call's time, canonical integer text
function C.new(ts)
  return {
    ts = ts,
    markets = {}, mlist = {}, -- symbol -> market table (cached, seq counters local)
    known = {}, -- account -> balance field -> value read in this call before any write (saves a re-read)
    bal = {}, alist = {}, -- account -> {asset -> {asset, da, dh}, [i] = that balance in first-touch order}
    olist = {}, -- touched orders, first touch first (published in their final state)
    trade_seq = false, trade_seq0 = false,
    call = false, -- this call's number (seq:call), text, taken by its first event
  }
end

-- market as a table (integers converted), nil when unknown
function C.market(ctx, sym)
  local m = ctx.markets[sym]
  if m then
    return m
  end
  local v = redis.call('HMGET', 'market:' .. sym, 'matching', 'status', 'seq', 'book_seq')
  if not v[1] then
    return nil
  end
  local p = spec_of(v[1])
  local seq, book_seq = tonumber(v[3]) or 0, tonumber(v[4]) or 0
  m = { -- one constructor (no rehash while filling)
    symbol = sym, base = p[1], quote = p[2], status = v[2], lot_minor = p[3], num = p[4], den = p[5],
    min_lots = p[6], max_lots = p[7], max_price_ticks = p[8], min_notional_minor = p[9], maker_bps = p[10],
    taker_bps = p[11], price_band_bps = p[12], seq = seq, book_seq = book_seq, seq0 = seq, book_seq0 = book_seq,
    trades = {}, levels = {}, k_events = 'events:' .. sym, k_bids = 'book:' .. sym .. ':bids',
    k_asks = 'book:' .. sym .. ':asks', lv_bids = {}, lv_asks = {}, -- price -> level (this call's cache)
  }
  ctx.markets[sym] = m
  ctx.mlist[#ctx.mlist + 1] = m
  return m
end

-- append one market event: XADD events:{SYM} {seq}-0 type <etype> ts <ts_ms> data <payload> call <n>
-- call: the number of the engine call that wrote it (INCR seq:call, once per call that writes events), the
-- same in every stream: the calls run one at a time, so "every event of a call numbered <= n" is a
-- consistent cut of the engine's history, which persistence uses to catch up a backlog in bounded steps.
-- data: one JSON object whose values are all strings, built by the caller in one concatenation. Every value
-- is an integer, a closed-vocabulary word, a validated symbol, asset, ref or client_order_id, or ledger text,
-- so none needs escaping.
function C.event(ctx, m, etype, data)
  m.seq = m.seq + 1
  local call = ctx.call
  if not call then
    call = U.s(redis.call('INCR', 'seq:call'))
    ctx.call = call
  end
  redis.call('XADD', m.k_events, U.s(m.seq) .. '-0', 'type', etype, 'ts', ctx.ts, 'data', data, 'call', call)
end

-- remember two balance fields read before any write of this call (the flush then needs no re-read)
function C.known(ctx, account, f1, v1, f2, v2)
  local k = ctx.known[account]
  if not k then
    k = {}
    ctx.known[account] = k
  end
  k[f1], k[f2] = v1, v2
end

-- move balance (account: text): accumulate the delta for the flush; returns the ledger line
-- "account,asset,delta_available,delta_held"
function C.move(ctx, account, asset, da, dh)
  local acc = ctx.bal[account]
  if not acc then
    acc = {}
    ctx.bal[account] = acc
    ctx.alist[#ctx.alist + 1] = account
  end
  local b = acc[asset]
  if not b then
    b = { asset = asset, da = 0, dh = 0 }
    acc[asset] = b
    acc[#acc + 1] = b
  end
  b.da = b.da + da
  b.dh = b.dh + dh
  return account .. ',' .. asset .. ',' .. U.s(da) .. ',' .. U.s(dh)
end

-- change a book level by dq lots and dn orders (buy: the bids, else the asks)
function C.level(ctx, m, buy, price, dq, dn)
  local cache = buy and m.lv_bids or m.lv_asks
  local l = cache[price]
  if not l then
    local p = U.s(price)
    local key = (buy and 'level:' .. m.symbol .. ':bids:' or 'level:' .. m.symbol .. ':asks:') .. p
    local v = redis.call('GET', key)
    l = { buy = buy, price = price, p = p, key = key, q = 0, n = 0, existed = false }
    if v then
      local q, n = string.match(v, '^(%d+) (%d+)$')
      l.q, l.n, l.existed = tonumber(q), tonumber(n), true
    end
    cache[price] = l
    m.levels[#m.levels + 1] = l
  end
  l.q = l.q + dq
  l.n = l.n + dn
end

function C.next_trade_id(ctx)
  if not ctx.trade_seq then
    ctx.trade_seq = tonumber(redis.call('GET', 'seq:trade')) or 0
    ctx.trade_seq0 = ctx.trade_seq
  end
  ctx.trade_seq = ctx.trade_seq + 1
  return ctx.trade_seq
end

-- an order changed in this call: published once, in its final state, by the flush
function C.touch(ctx, o)
  if not o.touched then
    o.touched = true
    ctx.olist[#ctx.olist + 1] = o
  end
end

-- per account: one HMGET of the touched fields (unless all were read before), one HSET, one PUBLISH
local function flush_balances(ctx)
  for _, account in ipairs(ctx.alist) do
    local acc = ctx.bal[account]
    local key = 'balance:' .. account
    local known = ctx.known[account]
    local n = #acc
    local v = {}
    for i = 1, n do
      local asset = acc[i].asset
      local fa, fh = asset .. ':available', asset .. ':held'
      acc[i].fa, acc[i].fh = fa, fh
      if known and v then
        local a, h = known[fa], known[fh]
        if a == nil or h == nil then
          v = nil
        else
          v[2 * i - 1], v[2 * i] = a, h
        end
      end
    end
    if not known or not v then
      local fields = {}
      for i = 1, n do
        fields[2 * i - 1], fields[2 * i] = acc[i].fa, acc[i].fh
      end
      v = redis.call('HMGET', key, unpack(fields))
    end
    local args, list = {}, {}
    for i = 1, n do
      local b = acc[i]
      local av = U.s((tonumber(v[2 * i - 1]) or 0) + b.da)
      local hd = U.s((tonumber(v[2 * i]) or 0) + b.dh)
      args[4 * i - 3], args[4 * i - 2], args[4 * i - 1], args[4 * i] = b.fa, av, b.fh, hd
      list[i] = '{"asset":"' .. b.asset .. '","available":' .. av .. ',"held":' .. hd .. '}'
    end
    redis.call('HSET', key, unpack(args))
    redis.call('PUBLISH', 'balances:' .. account, '[' .. table.concat(list, ',') .. ']')
  end
end

local function flush_market(m)
  local sym = m.symbol
  local levels = m.levels
  if #levels > 0 then
    local bids, asks = {}, {}
    for i = 1, #levels do
      local l = levels[i]
      local p = l.p
      local side = l.buy and 'bids' or 'asks'
      if l.n <= 0 then
        if l.existed then
          redis.call('DEL', l.key)
          redis.call('ZREM', 'depth:' .. sym .. ':' .. side, p)
        end
        l.q = 0
      else
        redis.call('SET', l.key, U.s(l.q) .. ' ' .. U.s(l.n))
        if not l.existed then
          redis.call('ZADD', 'depth:' .. sym .. ':' .. side, l.buy and U.s(-l.price) or p, p)
        end
      end
      local list = l.buy and bids or asks
      list[#list + 1] = '[' .. p .. ',' .. U.s(l.q) .. ']'
    end
    m.book_seq = m.book_seq + 1
    redis.call('PUBLISH', 'book:' .. sym, '{"seq":' .. U.s(m.book_seq) .. ',"bids":[' .. table.concat(bids, ',')
      .. '],"asks":[' .. table.concat(asks, ',') .. ']}')
  end
  if #m.trades > 0 then
    redis.call('LPUSH', 'trades:' .. sym, unpack(m.trades))
    redis.call('LTRIM', 'trades:' .. sym, 0, U.TRADES_KEPT - 1)
    redis.call('PUBLISH', 'trades:' .. sym, '[' .. table.concat(m.trades, ',') .. ']')
  end
  if m.seq ~= m.seq0 or m.book_seq ~= m.book_seq0 then
    redis.call('HSET', 'market:' .. sym, 'seq', U.s(m.seq), 'book_seq', U.s(m.book_seq))
  end
end

-- write the accumulated state and publish the call's notifications
function C.flush(ctx)
  flush_balances(ctx)
  for _, m in ipairs(ctx.mlist) do
    flush_market(m)
  end
  if ctx.trade_seq and ctx.trade_seq ~= ctx.trade_seq0 then
    redis.call('SET', 'seq:trade', U.s(ctx.trade_seq))
  end
  local olist = ctx.olist
  if #olist == 1 then -- the common case: one order, one message
    local o = olist[1]
    redis.call('PUBLISH', 'orders:' .. o.account, O.line(o))
    return
  end
  local by_account, accounts = {}, {}
  for _, o in ipairs(olist) do
    local list = by_account[o.account]
    if not list then
      list = {}
      by_account[o.account] = list
      accounts[#accounts + 1] = o.account
    end
    list[#list + 1] = O.line(o)
  end
  for _, a in ipairs(accounts) do
    redis.call('PUBLISH', 'orders:' .. a, table.concat(by_account[a], '\n'))
  end
end
