-- Circuit breaker for one tool, shared by every worker.
--
-- The only code that changes breaker state in Redis. `workers/tool_breaker.py` is its
-- reference model (the state machine is drawn there): same integers, same results, tested
-- by one table against the Python model, fakeredis (Lua 5.1 via lupa) and a real redis-server.
--
-- KEYS[1]  the state hash, `redis_keys.breaker_key(prefix, tool_name)`.
--          Fields: consecutive_failures, open_until_ms (integers).
--          A missing hash means CLOSED with no failures (see TTL below).
-- ARGV[1]  op: "allow" | "success" | "failure"
-- ARGV[2]  now_ms: the caller's wall clock in ms since the epoch
-- ARGV[3]  failure_threshold (>= 1)
-- ARGV[4]  cooldown_ms (>= 1)
-- ARGV[5]  ttl_ms: how long the hash lives after its last write
--
-- Returns by op:
--   allow    1 = go, 0 = refused, 2 = go with nothing stored (a success would change
--            nothing, so the caller need not report it). Admitting the half-open trial call
--            writes its lease (open_until_ms = now + cooldown) so no other worker goes while
--            it runs.
--   success  0. Deletes the hash: a closed breaker with no failures is the missing hash.
--   failure  0. Counts the failure; opens until now + cooldown once the count reaches the
--            threshold, unless already open (failures while open never extend it).
--
-- Time comes from ARGV, not Redis TIME, so the table test with pinned times is identical on
-- every backend, and the script stays deterministic for replication.
--
-- TTL: refreshed on every write; ttl_ms exceeds cooldown_ms, so an open period always ends
-- before its hash can expire. Expiry only forgets sub-threshold failures older than ttl_ms
-- and a long-idle half-open state: both mean "start CLOSED", which is what a tool nobody
-- called for that long deserves.

local key = KEYS[1]
local op = ARGV[1]
local now_ms = tonumber(ARGV[2])
local failure_threshold = tonumber(ARGV[3])
local cooldown_ms = tonumber(ARGV[4])
local ttl_ms = tonumber(ARGV[5])

local stored = redis.call('HMGET', key, 'consecutive_failures', 'open_until_ms')
local failures = tonumber(stored[1]) or 0
local open_until_ms = tonumber(stored[2]) or 0

-- "%.0f" because tostring() prints only 14 significant digits of a double.
local function save()
  redis.call('HSET', key,
    'consecutive_failures', string.format('%.0f', failures),
    'open_until_ms', string.format('%.0f', open_until_ms))
  redis.call('PEXPIRE', key, string.format('%.0f', ttl_ms))
end

if op == 'allow' then
  if not stored[1] and not stored[2] then
    return 2
  end
  if now_ms < open_until_ms then
    return 0
  end
  if failures >= failure_threshold then
    open_until_ms = now_ms + cooldown_ms
    save()
  end
  return 1
elseif op == 'success' then
  redis.call('DEL', key)
  return 0
elseif op == 'failure' then
  failures = failures + 1
  if now_ms >= open_until_ms and failures >= failure_threshold then
    open_until_ms = now_ms + cooldown_ms
  end
  save()
  return 0
end
return redis.error_reply('tool_breaker.lua: unknown op ' .. tostring(op))
