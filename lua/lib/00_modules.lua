--[[
  The library's modules, declared first so any helper may call any other:
    U  util (integers, exact arithmetic, JSON text, errors, registration)   lib/01_util.lua
    C  call context (cached reads, accumulated writes, events, publish)     lib/02_ctx.lua
    O  order records and the order object                                   lib/03_order.lua
    BK book membership and levels                                           lib/04_book.lua
    M  matching, settlement, closing orders                                 lib/05_match.lua
    W  deposits and withdrawals                                             lib/06_wallet.lua
]]
local U, C, O, BK, M, W = {}, {}, {}, {}, {}, {}
