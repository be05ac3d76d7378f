--[[
  ex_book (read-only): a market's aggregated levels, best first, with the book_seq they reflect, read in
  one atomic call so a client applying book:{SYM} updates with seq > snapshot seq reproduces the book.

  KEYS[1] market:{SYM}
  (by name: depth:{SYM}:bids/asks, level:{SYM}:bids/asks:{price})
  ARGV[1] symbol
  ARGV[2] depth   levels per side, 1..1000
  Result: JSON {"seq": book_seq, "bids": [[price_ticks, qty_lots, count]...], "asks": [...]}
  Errors: UNKNOWN_MARKET, INVALID_ARGUMENT
  Events: none
]]
local function side_levels(symbol, side, depth)
  local prices = redis.call('ZRANGE', 'depth:' .. symbol .. ':' .. side, 0, depth - 1)
  local out = {}
  if #prices > 0 then
    local keys = {}
    for i = 1, #prices do
      keys[i] = 'level:' .. symbol .. ':' .. side .. ':' .. prices[i]
    end
    local values = redis.call('MGET', unpack(keys))
    for i = 1, #prices do
      local q, n = string.match(values[i], '^(%d+) (%d+)$')
      out[i] = '[' .. prices[i] .. ',' .. q .. ',' .. n .. ']'
    end
  end
  return U.jarr(out)
end

local function book(keys, args)
  local market_key = keys[1]
  local symbol, depth = args[1], U.uint(args[2])
  local seq = redis.call('HGET', market_key, 'book_seq')
  if not seq or market_key ~= 'market:' .. symbol then
    U.fail('UNKNOWN_MARKET', 'no market ' .. symbol)
  end
  if not depth or depth < 1 or depth > 1000 then
    U.fail('INVALID_ARGUMENT', 'depth must be 1..1000')
  end
  return '{"seq":' .. seq .. ',"bids":' .. side_levels(symbol, 'bids', depth) .. ',"asks":'
    .. side_levels(symbol, 'asks', depth) .. '}'
end

U.register('ex_book', book, { 'no-writes' })
