--[[
  ex_create_market: create a market or update its parameters (upsert). An existing market keeps its
  status, seq and book_seq, and its base and quote never change; while it has resting orders its units,
  limits and fees cannot change (lot_minor, num, den, max_lots, max_price_ticks, maker_bps, taker_bps).
  min_lots, min_notional_minor and price_band_bps may change at any time.

  KEYS[1] market:{SYM}
  KEYS[2] markets
  ARGV[1]  symbol              BASE-QUOTE
  ARGV[2]  base                asset symbol
  ARGV[3]  quote               asset symbol
  ARGV[4]  lot_minor           base minor units per lot, >= 1
  ARGV[5]  num                 quote minor units per (tick x lot) = num/den, reduced, >= 1
  ARGV[6]  den                 >= 1
  ARGV[7]  min_lots            >= 1
  ARGV[8]  max_lots            >= min_lots
  ARGV[9]  max_price_ticks     >= 1
  ARGV[10] min_notional_minor  >= 0
  ARGV[11] maker_bps           0 <= maker_bps <= taker_bps <= 1000
  ARGV[12] taker_bps
  ARGV[13] status              trading | cancel_only | halted (used when creating only)
  ARGV[14] tick_size           decimal text, display only
  ARGV[15] lot_size            decimal text, display only
  ARGV[16] price_band_bps      0..10000, 0 = no band (docs/engine.md, "Price band"); a band > 0 needs
                               max_price_ticks * 20000 < 2^53 (touch * (10000 + band) stays exact)
  Writes every field readable, plus `matching`: the fields C.market reads, packed (lib/02_ctx.lua).
  Result: "OK"
  Errors: INVALID_ARGUMENT (malformed, 2^53 rules broken, band outside 0..10000, base/quote or a locked field
    changed), UNKNOWN_ASSET
  Events: none (markets are configuration; status changes go through ex_set_market_status)
]]
local INTS = { 'lot_minor', 'num', 'den', 'min_lots', 'max_lots', 'max_price_ticks', 'min_notional_minor',
  'maker_bps', 'taker_bps' }
local LOCKED = { 'lot_minor', 'num', 'den', 'max_lots', 'max_price_ticks', 'maker_bps', 'taker_bps' }
local STATUSES = { trading = true, cancel_only = true, halted = true }

local function gcd(a, b)
  while b > 0 do
    a, b = b, math.fmod(a, b)
  end
  return a
end

local function create_market(keys, args)
  local market_key, markets_key = keys[1], keys[2]
  local symbol, base, quote = args[1], args[2], args[3]
  if not string.find(symbol, '^[A-Z0-9]+%-[A-Z0-9]+$') or #symbol > 33 or market_key ~= 'market:' .. symbol
    or markets_key ~= 'markets' then
    U.fail('INVALID_ARGUMENT', 'market symbol must look like BASE-QUOTE')
  end
  if redis.call('SISMEMBER', 'assets', base) == 0 or redis.call('SISMEMBER', 'assets', quote) == 0 then
    U.fail('UNKNOWN_ASSET', 'base and quote must be known assets')
  end
  if base == quote then
    U.fail('INVALID_ARGUMENT', 'base and quote must differ')
  end
  local v = {}
  for i, name in ipairs(INTS) do
    v[name] = U.uint(args[3 + i])
    if not v[name] then
      U.fail('INVALID_ARGUMENT', name .. ' must be a non-negative integer below 2^53')
    end
  end
  if v.lot_minor < 1 or v.num < 1 or v.den < 1 or v.min_lots < 1 or v.max_lots < v.min_lots
    or v.max_price_ticks < 1 then
    U.fail('INVALID_ARGUMENT', 'lot_minor, num, den, min_lots, max_price_ticks must be >= 1, max_lots >= min_lots')
  end
  if gcd(v.num, v.den) ~= 1 then
    U.fail('INVALID_ARGUMENT', 'num/den must be a reduced fraction')
  end
  if v.maker_bps > v.taker_bps or v.taker_bps > 1000 then
    U.fail('INVALID_ARGUMENT', 'fees must satisfy 0 <= maker_bps <= taker_bps <= 1000')
  end
  -- rounding is monotonic, so `x * y >= 2^53` is decided exactly even when the product is not exact
  if v.max_price_ticks * v.max_lots >= U.MAX or v.max_price_ticks * v.max_lots * v.num >= U.MAX then
    U.fail('INVALID_ARGUMENT', 'max_price_ticks * max_lots * num must stay below 2^53')
  end
  if v.den * 10000 * (10000 + v.taker_bps) >= U.MAX then
    U.fail('INVALID_ARGUMENT', 'den * 10000 * (10000 + taker_bps) must stay below 2^53')
  end
  if v.max_lots * v.lot_minor >= U.MAX then
    U.fail('INVALID_ARGUMENT', 'max_lots * lot_minor must stay below 2^53')
  end
  local band = U.uint(args[16])
  if not band or band > 10000 then
    U.fail('INVALID_ARGUMENT', 'price_band_bps must be an integer in 0..10000')
  end
  -- the band compares price * 10000 with touch * (10000 +- band), every price <= max_price_ticks
  if band > 0 and v.max_price_ticks * 20000 >= U.MAX then
    U.fail('INVALID_ARGUMENT', 'a price band needs max_price_ticks * 20000 below 2^53')
  end
  v.price_band_bps = band
  local status = args[13]
  if not STATUSES[status] then
    U.fail('INVALID_ARGUMENT', 'status must be trading, cancel_only or halted')
  end
  local old = redis.call('HMGET', market_key, 'status', 'base', 'quote', unpack(LOCKED))
  local fields = { 'symbol', symbol, 'base', base, 'quote', quote, 'tick_size', args[14], 'lot_size', args[15] }
  for _, name in ipairs(INTS) do
    fields[#fields + 1] = name
    fields[#fields + 1] = U.s(v[name])
  end
  fields[#fields + 1] = 'price_band_bps'
  fields[#fields + 1] = U.s(band)
  local matching = {} -- C.MATCHING packed, what every call reads (lib/02_ctx.lua)
  v.base, v.quote = base, quote
  for i, name in ipairs(C.MATCHING) do
    matching[i] = type(v[name]) == 'number' and U.s(v[name]) or v[name]
  end
  fields[#fields + 1] = 'matching'
  fields[#fields + 1] = table.concat(matching, ' ')
  if old[1] then
    if old[2] ~= base or old[3] ~= quote then -- holds, balances and history are in those assets
      U.fail('INVALID_ARGUMENT', 'the base and quote of ' .. symbol .. ' cannot change')
    end
    local resting = redis.call('ZCARD', 'book:' .. symbol .. ':bids') + redis.call('ZCARD', 'book:' .. symbol .. ':asks')
    for i, name in ipairs(LOCKED) do
      if resting > 0 and tonumber(old[i + 3]) ~= v[name] then
        U.fail('INVALID_ARGUMENT', name .. ' cannot change while orders rest in ' .. symbol)
      end
    end
  else
    for _, f in ipairs({ 'status', status, 'seq', '0', 'book_seq', '0' }) do
      fields[#fields + 1] = f
    end
    redis.call('SADD', markets_key, symbol)
  end
  redis.call('HSET', market_key, unpack(fields))
  return 'OK'
end

U.register('ex_create_market', create_market)
