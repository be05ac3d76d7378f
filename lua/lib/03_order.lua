--[[
  order: the order record `order:{id}` and the order object of docs/engine.md.

  The record is one string: the order object's fields except `id` (it is in the key), in the order below,
  joined by '|'. The first 13 never change after the order is accepted (its "head"); the last 6 change as it
  fills and closes. A field equal to its default is left empty, and updated_ms is empty while it equals
  created_ms, so a resting order costs about 70 bytes and `GET order:{id}` stays readable:
    7|BTC-USDT|buy|||6000000|100||USDT||||1700000000000|open||||60120000|
  (account 7 buys 100 lots at 6,000,000 ticks and holds 60,120,000 USDT minor units)
  One GET or SET moves a whole order. Lua pays for every string and table it makes, so a maker is read with
  13 captures (the head whole, plus the fields matching needs) and rewritten as head .. tail.
  The same record, after the id and a space, is what orders:{account} publishes and ex_place / ex_cancel
  return: Python (exchange/engine/codec.py, parse_order_record) turns it into the order object.
]]
--[[ The fields, in record order (exchange/engine/codec.py RECORD_FIELDS is the same list):
       account symbol side type tif price qty quote_qty hold_asset post_only stp client_order_id created_ms
     | status reason filled quote_filled hold updated_ms
     Empty means the default: type limit, tif gtc, stp cancel_maker, reason and client_order_id '', every
     number 0, updated_ms = created_ms (codec.ORDER_DEFAULTS). ]]
-- captures (written out: the string library is not reachable while the library loads):
--   1 head  2 account  3 symbol  4 side  5 price  6 qty  7 hold_asset  8 created_ms
--   9 status  10 reason  11 filled  12 quote_filled  13 hold  14 updated_ms
local PATTERN = '^(([^|]*)|([^|]*)|([^|]*)|[^|]*|[^|]*|([^|]*)|([^|]*)|[^|]*|([^|]*)|[^|]*|[^|]*|[^|]*|([^|]*))'
  .. '|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$'
-- the head's fields that matching does not need, for the rare full read (a client_order_id retry)
local HEAD_PATTERN = '^[^|]*|[^|]*|[^|]*|([^|]*)|([^|]*)|[^|]*|[^|]*|([^|]*)|[^|]*|([^|]*)|([^|]*)|([^|]*)|'

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
  The order as a table, nil when absent: id (number), ids (its text), head (the record's unchanging part),
  rec (the whole record as last written), account (text), symbol, side, price, qty, hold_asset,
  created_ms and updated_ms (text), status, reason, filled, quote_filled, hold. O.full adds the rest.
]]
function O.load(id)
  local v = redis.call('GET', O.key(id))
  if not v then
    return nil
  end
  return O.parse(id, v)
end

-- O.load of a record already read (`v`, the text of order:{id})
function O.parse(id, v)
  local head, account, symbol, side, price, qty, hold_asset, created, status, reason, filled, quote_filled, hold,
    updated = string.match(v, PATTERN)
  return {
    id = id, ids = U.s(id), head = head, rec = v, account = account, symbol = symbol, side = side,
    price = int(price), qty = int(qty), hold_asset = hold_asset, created_ms = created, status = status,
    reason = reason, filled = int(filled), quote_filled = int(quote_filled), hold = int(hold),
    updated_ms = updated == '' and created or updated, touched = false,
  }
end

-- add the fields of the head that O.load leaves out: type, tif, quote_qty, post_only, stp, client_order_id
function O.full(o)
  local otype, tif, quote_qty, post_only, stp, coid = string.match(o.head, HEAD_PATTERN)
  o.type, o.tif, o.quote_qty = otype == '' and 'limit' or otype, tif == '' and 'gtc' or tif, int(quote_qty)
  o.post_only, o.stp = post_only == '1' and 1 or 0, stp == '' and 'cancel_maker' or stp
  o.client_order_id = coid
  return o
end

-- integer text, empty for 0
local function n0(v)
  if v == 0 then
    return ''
  end
  return U.s(v)
end

-- the head of a new order (every field of it set)
function O.head(o)
  return o.account .. '|' .. o.symbol .. '|' .. o.side .. '|' .. (o.type == 'limit' and '' or o.type) .. '|'
    .. (o.tif == 'gtc' and '' or o.tif) .. '|' .. n0(o.price) .. '|' .. n0(o.qty) .. '|' .. n0(o.quote_qty)
    .. '|' .. o.hold_asset .. '|' .. (o.post_only == 1 and '1' or '') .. '|'
    .. (o.stp == 'cancel_maker' and '' or o.stp) .. '|' .. o.client_order_id .. '|' .. o.created_ms
end

-- write the order (new or changed): one SET of head .. tail; o.rec keeps what was written
function O.save(o)
  local rec = o.head .. '|' .. o.status .. '|' .. o.reason .. '|' .. n0(o.filled) .. '|' .. n0(o.quote_filled)
    .. '|' .. n0(o.hold) .. '|' .. (o.updated_ms == o.created_ms and '' or o.updated_ms)
  o.rec = rec
  redis.call('SET', 'order:' .. o.ids, rec)
end

-- "{id} {record}": how an order leaves the engine (published and returned)
function O.line(o)
  return o.ids .. ' ' .. o.rec
end

function O.is_open(o)
  return o.status == 'open' or o.status == 'partially_filled'
end
