--[[
  util: integers, exact arithmetic, argument checks, JSON text, errors.

  Lua numbers are doubles: integers are exact below 2^53 only. Every integer the engine forms stays
  below U.MAX; numbers become text only through U.s (string.format('%d')), never through `..` or
  tostring (which print 1e+15).
]]

U.MAX = 9007199254740992 -- 2^53
-- makers touched (filled or STP-cancelled) per call: a maker costs ~60 us of Redis time (read, settle both
-- sides, events, notifications), so 12 keep the worst call under 1 ms (docs/engine.md; exchange/reference)
U.MAX_MAKERS = 12
-- orders cancelled per cancel_all / set_market_status call: a cancel costs about what a maker does, so the
-- same budget keeps those calls as short (callers loop until `remaining` is 0)
U.CANCEL_BATCH = U.MAX_MAKERS
U.CANCEL_EXAMINE = 100 -- open orders cancel_all looks at per call (a look is a GET, a tenth of a cancel)
-- open orders one account may hold: a gtc limit order beyond it is refused (TOO_MANY_OPEN_ORDERS). It bounds
-- what cancel_all sorts per call and what one account can make Redis keep.
U.MAX_OPEN_ORDERS = 2000
U.TRADES_KEPT = 200 -- length of the trades:{SYM} list

-- The text of integers repeats within a call (prices, quantities, zero), and string.format is one of the
-- dearest things a call does, so U.s memoizes it in a table that each call starts afresh (U.register).
-- Keeping it between calls was measured to be worse: every Lua GC cycle marks and sweeps whatever stays
-- alive, and a memo of tens of thousands of strings made the collector a third of the CPU time.
local s_cache = {}

function U.s(n)
  local s = s_cache[n]
  if s then
    return s
  end
  s = string.format('%d', n)
  if n == n then -- (never a NaN key)
    s_cache[n] = s
  end
  return s
end

-- strict non-negative integer below 2^53 from ARGV text in canonical form (no leading zero: keys are built
-- from the text, e.g. balance:{account}, so '007' and '7' must not both name account 7), else nil
function U.uint(v)
  if type(v) ~= 'string' or #v == 0 or #v > 16 or not string.find(v, '^%d+$')
    or (#v > 1 and string.byte(v, 1) == 48) then
    return nil
  end
  local n = tonumber(v)
  if n >= U.MAX then
    return nil
  end
  s_cache[n] = v -- v is n's text, so U.s(n) need not format it
  return n
end

-- integer that may be given as '' (meaning 0); nil when malformed
function U.uint0(v)
  if v == '' then
    return 0
  end
  return U.uint(v)
end

-- U.uint0 for an amount whose size has its own error (PRICE_TOO_HIGH, QTY_TOO_LARGE): a canonical integer
-- at or above 2^53 is U.MAX (too large, not malformed), so the size checks name it
function U.amount0(v)
  local n = U.uint0(v)
  if n == nil and type(v) == 'string' and string.find(v, '^[1-9]%d*$') then
    return U.MAX
  end
  return n
end

-- abort the call with a stable code (caught by U.register and returned as a clean error reply)
local failure = nil
function U.fail(code, msg)
  failure = code .. ' ' .. msg
  error('engine failure')
end

-- floor(a * b / c) and its remainder, exact without forming a * b.
-- Needs a, c < 2^53, (c - 1) * b < 2^53 and a result below 2^53.
function U.mul_div(a, b, c)
  local ra = math.fmod(a, c)
  local qa = (a - ra) / c
  local t = ra * b
  local rt = math.fmod(t, c)
  return qa * b + (t - rt) / c, rt
end

function U.mul_div_up(a, b, c)
  local q, r = U.mul_div(a, b, c)
  if r > 0 then
    q = q + 1
  end
  return q
end

-- a JSON string literal (plain identifiers, the common case, skip the encoder)
function U.jstr(v)
  if string.find(v, '^[%w_%-:%.]*$') then
    return '"' .. v .. '"'
  end
  return cjson.encode(v)
end

-- JSON text. kinds: 'i' integer, 's' string, 'b' boolean, 'r' raw JSON text
function U.jobj(spec, t)
  local parts = {}
  for i = 1, #spec do
    local name, kind = spec[i][1], spec[i][2]
    local v = t[name]
    local text
    if kind == 'i' then
      text = string.format('%d', v or 0)
    elseif kind == 's' then
      text = U.jstr(v or '')
    elseif kind == 'b' then
      text = v and 'true' or 'false'
    else
      text = v
    end
    parts[i] = '"' .. name .. '":' .. text
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- a JSON array from a Lua list of JSON texts (always `[]` when empty, never `{}`)
function U.jarr(items)
  return '[' .. table.concat(items, ',') .. ']'
end

-- register a command: errors raised with U.fail become clean error replies
function U.register(name, fn, flags)
  local function callback(keys, args)
    failure = nil
    s_cache = {}
    local ok, res = pcall(fn, keys, args)
    if ok then
      return res
    end
    if failure then
      local f = failure
      failure = nil
      return redis.error_reply(f)
    end
    if type(res) == 'table' and res.err then
      return res
    end
    error(res)
  end
  redis.register_function({ function_name = name, callback = callback, flags = flags or {} })
end
