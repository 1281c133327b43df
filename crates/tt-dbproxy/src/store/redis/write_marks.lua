-- Merges the GTID position ARGV[2] (d-s-n,...) into each key (the newest
-- sequence per domain wins) and sets the TTL ARGV[1] seconds. Positions
-- only move forward, whichever writer comes last.
local function take(best, order, text)
  if not text then return end
  for d, s, n in string.gmatch(text, '(%d+)-(%d+)-(%d+)') do
    local old = best[d]
    if old == nil then table.insert(order, d) end
    if old == nil or tonumber(n) > tonumber(old[2]) then best[d] = {s, n} end
  end
end
for _, key in ipairs(KEYS) do
  local best, order = {}, {}
  take(best, order, redis.call('GET', key))
  take(best, order, ARGV[2])
  local parts = {}
  for _, d in ipairs(order) do
    table.insert(parts, d .. '-' .. best[d][1] .. '-' .. best[d][2])
  end
  redis.call('SET', key, table.concat(parts, ','), 'EX', ARGV[1])
end
return #KEYS
