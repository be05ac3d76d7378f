--[[
  ex_create_asset: create or update an asset (upsert; its decimals can never change).

  KEYS[1] asset:{SYM}
  KEYS[2] assets
  ARGV[1] symbol    1..16 of [A-Z0-9]
  ARGV[2] name      1..64 characters
  ARGV[3] decimals  0..18
  Result: "OK" (a new asset starts with supply 0: deposits - withdrawals, kept by the wallet commands)
  Errors: INVALID_ARGUMENT
  Events: none (assets are configuration)
]]
local function create_asset(keys, args)
  local asset_key, assets_key = keys[1], keys[2]
  local symbol, name, decimals = args[1], args[2], U.uint(args[3])
  if not string.find(symbol, '^[A-Z0-9]+$') or #symbol > 16 or asset_key ~= 'asset:' .. symbol
    or assets_key ~= 'assets' then
    U.fail('INVALID_ARGUMENT', 'asset symbol must be 1..16 of [A-Z0-9]')
  end
  if #name < 1 or #name > 64 then
    U.fail('INVALID_ARGUMENT', 'asset name must be 1..64 characters')
  end
  if not decimals or decimals > 18 then
    U.fail('INVALID_ARGUMENT', 'decimals must be an integer 0..18')
  end
  local old = redis.call('HGET', asset_key, 'decimals')
  if old and tonumber(old) ~= decimals then
    U.fail('INVALID_ARGUMENT', 'the decimals of ' .. symbol .. ' cannot change')
  end
  redis.call('HSET', asset_key, 'symbol', symbol, 'name', name, 'decimals', U.s(decimals))
  -- a new asset has nothing deposited yet; an older asset without the field is counted by
  -- exchange/engine/supply.py, never assumed to be 0
  if not old then
    redis.call('HSET', asset_key, 'supply', '0')
  end
  redis.call('SADD', assets_key, symbol)
  return 'OK'
end

U.register('ex_create_asset', create_asset)
