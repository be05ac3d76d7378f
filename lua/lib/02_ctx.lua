--[[
  ctx: the state of one call. Reads are cached, writes that many steps touch (balances, book levels,
  market sequences, the trade sequence) are accumulated and flushed once by C.flush, which also PUBLISHes
  the live notifications of the call:
    book:{SYM}        {"seq": book_seq, "bids": [[price, qty]...], "asks": [...]}  (absolute, 0 removes)
    trades:{SYM}      [{"id","price","qty","side","ts"}...]
    orders:{account}  [order...]
    balances:{account} [{"asset","available","held"}...]
  Events (XADD) are written immediately, in order, by C.event.
]]


local MARKET_TEXT = { 'symbol', 'base', 'quote', 'status' }
local MARKET_INTS = { 'lot_minor', 'num', 'den', 'min_lots', 'max_lots', 'max_price_ticks',
  'min_notional_minor', 'maker_bps', 'taker_bps', 'seq', 'book_seq' }
local MARKET_READ = {} -- HMGET field list: the text fields, then the integers
for i = 1, #MARKET_TEXT do
  MARKET_READ[i] = MARKET_TEXT[i]
end
for i = 1, #MARKET_INTS do
  MARKET_READ[#MARKET_TEXT + i] = MARKET_INTS[i]
end

function C.new(ts)
  return {
    ts = ts, ts_s = U.s(ts),
    markets = {}, mlist = {}, -- symbol -> market table (cached, seq counters local)
    known = {}, -- account -> balance field -> value read in this call before any write (saves a re-read)
    bal = {}, alist = {}, -- account -> {asset -> {asset, da, dh}, [i] = that balance in first-touch order}
    orders = {}, olist = {}, -- touched orders (published in their final state)
    trade_seq = nil, trade_seq0 = nil,
  }
end

-- market hash as a table (integers converted), nil when unknown
function C.market(ctx, sym)
  local m = ctx.markets[sym]
  if m then
    return m
  end
  local v = redis.call('HMGET', 'market:' .. sym, unpack(MARKET_READ))
  if not v[1] then
    return nil
  end
  m = { -- one constructor (no rehash while filling), in MARKET_READ order
    symbol = v[1], base = v[2], quote = v[3], status = v[4], lot_minor = tonumber(v[5]) or 0,
    num = tonumber(v[6]) or 0, den = tonumber(v[7]) or 0, min_lots = tonumber(v[8]) or 0,
    max_lots = tonumber(v[9]) or 0, max_price_ticks = tonumber(v[10]) or 0,
    min_notional_minor = tonumber(v[11]) or 0, maker_bps = tonumber(v[12]) or 0,
    taker_bps = tonumber(v[13]) or 0, seq = tonumber(v[14]) or 0, book_seq = tonumber(v[15]) or 0,
    seq0 = 0, book_seq0 = 0, trades = {}, levels = {}, k_events = '', k_book = false, k_levels = false,
    lv = { bids = {}, asks = {} }, -- side -> price -> level (this call's cache)
  }
  m.seq0, m.book_seq0 = m.seq, m.book_seq
  local sym = m.symbol -- the market's keys, built once per call
  m.k_events = 'events:' .. sym
  m.k_book = { bids = 'book:' .. sym .. ':bids', asks = 'book:' .. sym .. ':asks' }
  m.k_levels = { bids = 'levels:' .. sym .. ':bids', asks = 'levels:' .. sym .. ':asks' }
  ctx.markets[sym] = m
  ctx.mlist[#ctx.mlist + 1] = m
  return m
end

-- append one market event: XADD events:{SYM} {seq}-0 seq type ts <fields...>
function C.event(ctx, m, etype, fields)
  m.seq = m.seq + 1
  local s = U.s(m.seq)
  redis.call('XADD', m.k_events, s .. '-0', 'seq', s, 'type', etype, 'ts', ctx.ts_s, unpack(fields))
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

-- move balance: accumulate the delta for the flush and append a ledger entry
function C.move(ctx, ledger, account, asset, da, dh)
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
  ledger[#ledger + 1] = U.s(account) .. ',' .. asset .. ',' .. U.s(da) .. ',' .. U.s(dh)
end

-- change a book level by dq lots and dn orders (side: 'bids' | 'asks')
function C.level(ctx, m, side, price, dq, dn)
  local cache = m.lv[side]
  local l = cache[price]
  if not l then
    local v = redis.call('HGET', m.k_levels[side], U.s(price))
    l = { side = side, price = price, q = 0, n = 0, existed = false }
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

function C.touch(ctx, o)
  if not ctx.orders[o.id] then
    ctx.olist[#ctx.olist + 1] = o.id
  end
  ctx.orders[o.id] = o
end

-- per account: one HMGET of the touched fields, one HSET of their new values, one PUBLISH
local function flush_balances(ctx)
  for _, account in ipairs(ctx.alist) do
    local acc = ctx.bal[account]
    local key = 'balance:' .. U.s(account)
    local fields = {}
    for i = 1, #acc do
      local asset = acc[i].asset
      fields[2 * i - 1], fields[2 * i] = asset .. ':available', asset .. ':held'
    end
    local known = ctx.known[account]
    local v
    if known then
      v = {}
      for i = 1, #fields do
        local x = known[fields[i]]
        if x == nil then
          v = nil
          break
        end
        v[i] = x
      end
    end
    if not v then
      v = redis.call('HMGET', key, unpack(fields))
    end
    local args, list = {}, {}
    for i = 1, #acc do
      local b = acc[i]
      local av = U.s((tonumber(v[2 * i - 1]) or 0) + b.da)
      local hd = U.s((tonumber(v[2 * i]) or 0) + b.dh)
      local n = #args
      args[n + 1], args[n + 2], args[n + 3], args[n + 4] = fields[2 * i - 1], av, fields[2 * i], hd
      list[i] = '{"asset":"' .. b.asset .. '","available":' .. av .. ',"held":' .. hd .. '}'
    end
    redis.call('HSET', key, unpack(args))
    redis.call('PUBLISH', 'balances:' .. U.s(account), U.jarr(list))
  end
end

local function flush_market(m)
  local sym = m.symbol
  if #m.levels > 0 then
    local sides = { bids = {}, asks = {} }
    for _, l in ipairs(m.levels) do
      local p = U.s(l.price)
      local depth_key, level_key = 'depth:' .. sym .. ':' .. l.side, 'levels:' .. sym .. ':' .. l.side
      if l.n <= 0 then
        if l.existed then
          redis.call('HDEL', level_key, p)
          redis.call('ZREM', depth_key, p)
        end
        l.q = 0
      else
        redis.call('HSET', level_key, p, U.s(l.q) .. ' ' .. U.s(l.n))
        if not l.existed then
          redis.call('ZADD', depth_key, l.side == 'bids' and U.s(-l.price) or p, p)
        end
      end
      local list = sides[l.side]
      list[#list + 1] = '[' .. p .. ',' .. U.s(l.q) .. ']'
    end
    m.book_seq = m.book_seq + 1
    redis.call('PUBLISH', 'book:' .. sym, '{"seq":' .. U.s(m.book_seq) .. ',"bids":' .. U.jarr(sides.bids)
      .. ',"asks":' .. U.jarr(sides.asks) .. '}')
  end
  if #m.trades > 0 then
    redis.call('LPUSH', 'trades:' .. sym, unpack(m.trades))
    redis.call('LTRIM', 'trades:' .. sym, 0, U.TRADES_KEPT - 1)
    redis.call('PUBLISH', 'trades:' .. sym, U.jarr(m.trades))
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
  local by_account, accounts = {}, {}
  for _, id in ipairs(ctx.olist) do
    local o = ctx.orders[id]
    local list = by_account[o.account]
    if not list then
      list = {}
      by_account[o.account] = list
      accounts[#accounts + 1] = o.account
    end
    o.json = O.json(o)
    list[#list + 1] = o.json
  end
  for _, a in ipairs(accounts) do
    redis.call('PUBLISH', 'orders:' .. U.s(a), U.jarr(by_account[a]))
  end
end
