--[[
  order: the order hash `order:{id}` and the order object of docs/engine.md.

  The hash stores every field of the order object except `id` (it is in the key). To keep resting orders
  small, a field equal to its default below is not stored; readers (O.load here, exchange/engine/orders.py
  in Python) fill the defaults back in, so `HGETALL order:{id}` stays readable.
]]
O.SPEC = {
  { 'id', 'i' }, { 'account', 'i' }, { 'symbol', 's' }, { 'side', 's' }, { 'type', 's' }, { 'tif', 's' },
  { 'price', 'i' }, { 'qty', 'i' }, { 'quote_qty', 'i' }, { 'filled', 'i' }, { 'quote_filled', 'i' },
  { 'hold', 'i' }, { 'hold_asset', 's' }, { 'status', 's' }, { 'reason', 's' }, { 'post_only', 'i' },
  { 'stp', 's' }, { 'client_order_id', 's' }, { 'created_ms', 'i' }, { 'updated_ms', 'i' },
}
O.DEFAULTS = {
  type = 'limit', tif = 'gtc', price = 0, qty = 0, quote_qty = 0, filled = 0, quote_filled = 0,
  reason = '', post_only = 0, stp = 'cancel_maker', client_order_id = '',
}
local INTS = {}
for i = 1, #O.SPEC do -- (numeric loop: the load-time sandbox has no ipairs)
  if O.SPEC[i][2] == 'i' then
    INTS[O.SPEC[i][1]] = true
  end
end

function O.key(id)
  return 'order:' .. U.s(id)
end

-- book member: the id zero-padded to 16 digits, so equal scores sort FIFO by bytes
function O.member(id)
  return string.format('%016d', id)
end

function O.load(id)
  local flat = redis.call('HGETALL', O.key(id))
  if #flat == 0 then
    return nil
  end
  local o = {}
  for i = 1, #flat, 2 do
    o[flat[i]] = flat[i + 1]
  end
  for k, d in pairs(O.DEFAULTS) do
    if o[k] == nil then
      o[k] = d
    end
  end
  for k in pairs(INTS) do
    o[k] = tonumber(o[k]) or 0
  end
  o.id = id
  return o
end

-- write a new order: every non-default field
function O.save(o)
  local args = {}
  for i = 2, #O.SPEC do
    local name, kind = O.SPEC[i][1], O.SPEC[i][2]
    local v = o[name]
    if v ~= O.DEFAULTS[name] then
      args[#args + 1] = name
      args[#args + 1] = kind == 'i' and U.s(v) or v
    end
  end
  redis.call('HSET', O.key(o.id), unpack(args))
end

-- write the fields that change while an order lives
function O.update(o)
  local args = { 'filled', U.s(o.filled), 'hold', U.s(o.hold), 'status', o.status, 'updated_ms', U.s(o.updated_ms) }
  if o.quote_filled ~= 0 then
    args[#args + 1] = 'quote_filled'
    args[#args + 1] = U.s(o.quote_filled)
  end
  if o.reason ~= '' then
    args[#args + 1] = 'reason'
    args[#args + 1] = o.reason
  end
  redis.call('HSET', O.key(o.id), unpack(args))
end

-- every text field of an order is a closed-vocabulary word, a validated symbol or a client_order_id of
-- [A-Za-z0-9_-], so one format call builds the JSON without escaping
local JSON_FORMAT = '{"id":%d,"account":%d,"symbol":"%s","side":"%s","type":"%s","tif":"%s","price":%d,'
  .. '"qty":%d,"quote_qty":%d,"filled":%d,"quote_filled":%d,"hold":%d,"hold_asset":"%s","status":"%s",'
  .. '"reason":"%s","post_only":%d,"stp":"%s","client_order_id":"%s","created_ms":%d,"updated_ms":%d}'

function O.json(o)
  return string.format(JSON_FORMAT, o.id, o.account, o.symbol, o.side, o.type, o.tif, o.price, o.qty,
    o.quote_qty, o.filled, o.quote_filled, o.hold, o.hold_asset, o.status, o.reason, o.post_only, o.stp,
    o.client_order_id, o.created_ms, o.updated_ms)
end

function O.is_open(o)
  return o.status == 'open' or o.status == 'partially_filled'
end
