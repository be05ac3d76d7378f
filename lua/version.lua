--[[
  ex_version (read-only): the library version (a hash of the library text, set by
  exchange/engine/library.py), so the Python side can detect a stale library and reload it.

  KEYS: none
  ARGV: none
  Result: version string
]]
local function version()
  return LIBRARY_VERSION
end

U.register('ex_version', version, { 'no-writes' })
