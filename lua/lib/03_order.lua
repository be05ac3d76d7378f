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

function O.key(id)
  return 'order:' .. U.s(id)
end

-- book member: the id zero-padded to 16 digits, so equal scores sort FIFO by bytes
function O.member(id)
  return string.format('%016d', id)
end

-- every stored field, in O.SPEC order (without id): O.load reads them with one HMGET
local LOAD_FIELDS = { 'account', 'symbol', 'side', 'type', 'tif', 'price', 'qty', 'quote_qty', 'filled',
  'quote_filled', 'hold', 'hold_asset', 'status', 'reason', 'post_only', 'stp', 'client_order_id', 'created_ms',
  'updated_ms' }

-- the order as a table (defaults of O.DEFAULTS filled in, integers converted), nil when absent
function O.load(id)
  local v = redis.call('HMGET', O.key(id), unpack(LOAD_FIELDS))
  if not v[1] then -- account is always stored
    return nil
  end
  return {
    id = id, account = tonumber(v[1]) or 0, symbol = v[2], side = v[3], type = v[4] or 'limit', tif = v[5] or 'gtc',
    price = tonumber(v[6]) or 0, qty = tonumber(v[7]) or 0, quote_qty = tonumber(v[8]) or 0,
    filled = tonumber(v[9]) or 0, quote_filled = tonumber(v[10]) or 0, hold = tonumber(v[11]) or 0,
    hold_asset = v[12], status = v[13], reason = v[14] or '', post_only = tonumber(v[15]) or 0,
    stp = v[16] or 'cancel_maker', client_order_id = v[17] or '', created_ms = tonumber(v[18]) or 0,
    updated_ms = tonumber(v[19]) or 0,
  }
end

-- write a new order: every non-default field, in O.SPEC order (spelled out: this runs for every order)
function O.save(o)
  local a = { 'account', U.s(o.account), 'symbol', o.symbol, 'side', o.side }
  local n = 6
  local function put(name, v)
    a[n + 1], a[n + 2] = name, v
    n = n + 2
  end
  if o.type ~= 'limit' then
    put('type', o.type)
  end
  if o.tif ~= 'gtc' then
    put('tif', o.tif)
  end
  if o.price ~= 0 then
    put('price', U.s(o.price))
  end
  if o.qty ~= 0 then
    put('qty', U.s(o.qty))
  end
  if o.quote_qty ~= 0 then
    put('quote_qty', U.s(o.quote_qty))
  end
  if o.filled ~= 0 then
    put('filled', U.s(o.filled))
  end
  if o.quote_filled ~= 0 then
    put('quote_filled', U.s(o.quote_filled))
  end
  put('hold', U.s(o.hold))
  put('hold_asset', o.hold_asset)
  put('status', o.status)
  if o.reason ~= '' then
    put('reason', o.reason)
  end
  if o.post_only ~= 0 then
    put('post_only', U.s(o.post_only))
  end
  if o.stp ~= 'cancel_maker' then
    put('stp', o.stp)
  end
  if o.client_order_id ~= '' then
    put('client_order_id', o.client_order_id)
  end
  put('created_ms', U.s(o.created_ms))
  put('updated_ms', U.s(o.updated_ms))
  redis.call('HSET', O.key(o.id), unpack(a))
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
-- [A-Za-z0-9_-], so the JSON needs no escaping; one concatenation builds it (cheaper than string.format)
function O.json(o)
  local s = U.s
  return '{"id":' .. s(o.id) .. ',"account":' .. s(o.account) .. ',"symbol":"' .. o.symbol .. '","side":"'
    .. o.side .. '","type":"' .. o.type .. '","tif":"' .. o.tif .. '","price":' .. s(o.price) .. ',"qty":'
    .. s(o.qty) .. ',"quote_qty":' .. s(o.quote_qty) .. ',"filled":' .. s(o.filled) .. ',"quote_filled":'
    .. s(o.quote_filled) .. ',"hold":' .. s(o.hold) .. ',"hold_asset":"' .. o.hold_asset .. '","status":"'
    .. o.status .. '","reason":"' .. o.reason .. '","post_only":' .. s(o.post_only) .. ',"stp":"' .. o.stp
    .. '","client_order_id":"' .. o.client_order_id .. '","created_ms":' .. s(o.created_ms) .. ',"updated_ms":'
    .. s(o.updated_ms) .. '}'
end

function O.is_open(o)
  return o.status == 'open' or o.status == 'partially_filled'
end
