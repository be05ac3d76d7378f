--[[
  book: resting orders and aggregated levels of a market.
    book:{SYM}:bids / :asks    zset, member O.member(id), score -price (bids) / price (asks): best first
    depth:{SYM}:bids / :asks   zset of level prices (member price, same score rule)
    level:{SYM}:bids:{price}   string "qty_lots order_count" of one level (and :asks:); one key per level,
                               so a call reads or writes a level in O(1) however many levels the side has
    open:{account}             set of the account's open order ids
  Level changes go through C.level and are written once by C.flush.
]]
function BK.add(ctx, m, o)
  local buy = o.side == 'buy'
  redis.call('ZADD', buy and m.k_bids or m.k_asks, U.s(buy and -o.price or o.price), O.member(o.id))
  redis.call('SADD', 'open:' .. o.account, o.ids)
  C.level(ctx, m, buy, o.price, o.qty - o.filled, 1)
end

-- take an order out of the book; its remaining lots leave the level
function BK.remove(ctx, m, o)
  local buy = o.side == 'buy'
  redis.call('ZREM', buy and m.k_bids or m.k_asks, O.member(o.id))
  redis.call('SREM', 'open:' .. o.account, o.ids)
  C.level(ctx, m, buy, o.price, -(o.qty - o.filled), -1)
end

-- the opposite book key and the score bound of the makers a taker may match
function BK.opposite(m, side, price)
  if side == 'buy' then
    return m.k_asks, price > 0 and U.s(price) or '+inf'
  end
  return m.k_bids, price > 0 and U.s(-price) or '+inf'
end

-- does the opposite side hold an order this limit (or market, price 0) would match?
function BK.crosses(m, side, price)
  local opp, hi = BK.opposite(m, side, price)
  return #redis.call('ZRANGEBYSCORE', opp, '-inf', hi, 'LIMIT', 0, 1) > 0
end

-- the best price (ticks) a taker of `side` meets: the best ask for a buy, the best bid for a sell; nil when
-- that side is empty. One ZRANGE: the score is the price (asks) or -price (bids), an exact integer.
function BK.best(m, side)
  local buy = side == 'buy'
  local top = redis.call('ZRANGE', buy and m.k_asks or m.k_bids, 0, 0, 'WITHSCORES')
  if #top == 0 then
    return nil
  end
  local score = tonumber(top[2])
  return buy and score or -score
end
