--[[
  ex_withdraw: debit an account's available balance (idempotent by ref).

  KEYS[1] balance:{account}
  KEYS[2] wallet:refs
  (by name: assets, asset:{asset} (its supply), seq:wallet, seq:call, events:wallet)
  ARGV[1] account       integer >= 0 (0 is the fee account)
  ARGV[2] asset
  ARGV[3] amount_minor  integer > 0
  ARGV[4] ref           1..64 of [A-Za-z0-9._:-], the caller's idempotency id
  ARGV[5] ts_ms
  Result: JSON {"account","asset","amount","available","held","duplicate"}; a repeat of the same ref with the
    same fields returns the original result with duplicate true.
  Errors: INVALID_ARGUMENT, UNKNOWN_ASSET, INVALID_AMOUNT, DUPLICATE_REF, INSUFFICIENT_FUNDS
  Events (events:wallet): withdrawal
]]
local function withdraw(keys, args)
  return W.result(W.move('withdrawal', keys, args))
end

U.register('ex_withdraw', withdraw)
