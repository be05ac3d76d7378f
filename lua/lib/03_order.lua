--[[
  order: the order record `order:{id}` and the order object of docs/engine.md.

  The record is one string: the order object's fields except `id` (it is in the key), in O.FIELDS order,
  joined by '|'. A field equal to its default in O.DEFAULTS is left empty, so a resting order costs about
  70 bytes and `GET order:{id}` stays readable:
    7|BTC-USDT|buy|||6000000|100|||||6012000|USDT|open|||||1700000000000|
  (account 7 buys 100 lots at 6,000,000 ticks, holds 6,012,000 USDT minor units; updated_ms empty = created_ms)
  One GET or SET moves a whole order: a Redis call costs per argument and per reply element, so a
  19-field hash cost five times as much to read or write. Readers: O.load here, and
  exchange/engine/codec.py (parse_order_record) in Python.
]]
O.FIELDS = { 'account', 'symbol', 'side', 'type', 'tif', 'price', 'qty', 'quote_qty', 'filled', 'quote_filled',
  'hold', 'hold_asset', 'status', 'reason', 'post_only', 'stp', 'client_order_id', 'created_ms', 'updated_ms' }
O.DEFAULTS = {
  type = 'limit', tif = 'gtc', price = 0, qty = 0, quote_qty = 0, filled = 0, quote_filled = 0, hold = 0,
  reason = '', post_only = 0, stp = 'cancel_maker', client_order_id = '',
}
-- 19 captures, one per field of O.FIELDS (written out: the string library is not reachable while the
-- library loads)
local PATTERN = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$'

function O.key(id)
  return 'order:' .. U.s(id)
end

-- book member: the id zero-padded to 16 digits, so equal scores sort FIFO by bytes
function O.member(id)
  return string.format('%016d', id)
end

-- integer field: empty text is 0
local function int(v)
  if v == '' then
    return 0
  end
  return tonumber(v)
end

--[[
  The order as a table, nil when absent. Arithmetic fields are numbers (price, qty, quote_qty, filled,
  quote_filled, hold, post_only); the ones that only pass through stay text: ids (account, ids = the order id),
  created_ms, updated_ms. `id` is the number.
]]
function O.load(id)
  local v = redis.call('GET', O.key(id))
  if not v then
    return nil
  end
  local account, symbol, side, otype, tif, price, qty, quote_qty, filled, quote_filled, hold, hold_asset, status,
    reason, post_only, stp, coid, created, updated = string.match(v, PATTERN)
  return {
    id = id, ids = U.s(id), account = account, symbol = symbol, side = side,
    type = otype == '' and 'limit' or otype, tif = tif == '' and 'gtc' or tif, price = int(price),
    qty = int(qty), quote_qty = int(quote_qty), filled = int(filled), quote_filled = int(quote_filled),
    hold = int(hold), hold_asset = hold_asset, status = status, reason = reason,
    post_only = post_only == '1' and 1 or 0, stp = stp == '' and 'cancel_maker' or stp, client_order_id = coid,
    created_ms = created, updated_ms = updated == '' and created or updated, touched = false, json = false,
  }
end

-- integer text, empty for 0
local function n0(v)
  if v == 0 then
    return ''
  end
  return U.s(v)
end

-- write the whole order (new or changed): one SET of the record
function O.save(o)
  redis.call('SET', 'order:' .. o.ids, o.account .. '|' .. o.symbol .. '|' .. o.side .. '|'
    .. (o.type == 'limit' and '' or o.type) .. '|' .. (o.tif == 'gtc' and '' or o.tif) .. '|' .. n0(o.price)
    .. '|' .. n0(o.qty) .. '|' .. n0(o.quote_qty) .. '|' .. n0(o.filled) .. '|' .. n0(o.quote_filled) .. '|'
    .. n0(o.hold) .. '|' .. o.hold_asset .. '|' .. o.status .. '|' .. o.reason .. '|'
    .. (o.post_only == 1 and '1' or '') .. '|' .. (o.stp == 'cancel_maker' and '' or o.stp) .. '|'
    .. o.client_order_id .. '|' .. o.created_ms .. '|' .. (o.updated_ms == o.created_ms and '' or o.updated_ms))
end

-- every text field of an order is a closed-vocabulary word, a validated symbol or a client_order_id of
-- [A-Za-z0-9_-], so the JSON needs no escaping; one concatenation builds it
function O.json(o)
  local s = U.s
  return '{"id":' .. o.ids .. ',"account":' .. o.account .. ',"symbol":"' .. o.symbol .. '","side":"'
    .. o.side .. '","type":"' .. o.type .. '","tif":"' .. o.tif .. '","price":' .. s(o.price) .. ',"qty":'
    .. s(o.qty) .. ',"quote_qty":' .. s(o.quote_qty) .. ',"filled":' .. s(o.filled) .. ',"quote_filled":'
    .. s(o.quote_filled) .. ',"hold":' .. s(o.hold) .. ',"hold_asset":"' .. o.hold_asset .. '","status":"'
    .. o.status .. '","reason":"' .. o.reason .. '","post_only":' .. (o.post_only == 1 and '1' or '0')
    .. ',"stp":"' .. o.stp .. '","client_order_id":"' .. o.client_order_id .. '","created_ms":' .. o.created_ms
    .. ',"updated_ms":' .. o.updated_ms .. '}'
end

function O.is_open(o)
  return o.status == 'open' or o.status == 'partially_filled'
end
