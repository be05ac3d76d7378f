--[[
  book: resting orders and aggregated levels of a market.
    book:{SYM}:bids / :asks    zset, member O.member(id), score -price (bids) / price (asks): best first
    depth:{SYM}:bids / :asks   zset of level prices (member price, same score rule)
    levels:{SYM}:bids / :asks  hash price -> "qty_lots order_count"
    open:{account}             set of the account's open order ids
  Level changes go through C.level and are written once by C.flush.
]]
function BK.side(order_side)
  return order_side == 'buy' and 'bids' or 'asks'
end

function BK.add(ctx, m, o)
  local side = BK.side(o.side)
  local score = o.side == 'buy' and -o.price or o.price
  redis.call('ZADD', m.k_book[side], U.s(score), O.member(o.id))
  redis.call('SADD', 'open:' .. U.s(o.account), U.s(o.id))
  C.level(ctx, m, side, o.price, o.qty - o.filled, 1)
end

-- take an order out of the book; its remaining lots leave the level
function BK.remove(ctx, m, o)
  local side = BK.side(o.side)
  redis.call('ZREM', m.k_book[side], O.member(o.id))
  redis.call('SREM', 'open:' .. U.s(o.account), U.s(o.id))
  C.level(ctx, m, side, o.price, -(o.qty - o.filled), -1)
end

-- does the opposite side hold an order this limit (or market, price 0) would match?
function BK.crosses(m, side, price)
  local opp, hi = BK.opposite(m, side, price)
  return #redis.call('ZRANGEBYSCORE', opp, '-inf', hi, 'LIMIT', 0, 1) > 0
end

-- the opposite book key and the score bound of the makers a taker may match
function BK.opposite(m, side, price)
  if side == 'buy' then
    return m.k_book.asks, price > 0 and U.s(price) or '+inf'
  end
  return m.k_book.bids, price > 0 and U.s(-price) or '+inf'
end
