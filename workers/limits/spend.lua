-- Dollar budgets: hold a turn's worst-case cost against every limit that applies, or none;
-- settle the hold to what the turn really cost. The only code that changes spend state.
--
-- KEYS[1]          the hold's record (hash: amount, state = held | settled, at_ms: when
--                  it was held, which names the day and month counters it was held on)
-- KEYS[2k], KEYS[2k+1] for scope k = 1..n: its totals hash (spent, held, and one field
--                  "h:<hold id>" per live hold = its amount) and its holds zset
--                  (member hold id, score the hold's expiry in ms)
-- ARGV[1]  op: "hold" | "settle"
-- ARGV[2]  now_ms (the caller's clock, as in token_bucket.lua)
-- ARGV[3]  hold id
-- ARGV[4]  hold: the amount in micro-dollars; settle: the real cost (-1 = unknown: charge
--          what was held, the worst case, rather than nothing)
-- ARGV[5]  hold: the hold's expiry in ms; settle: unused
-- ARGV[6]  how long the record of a settled hold is kept, in ms (a late duplicate settle
--          within it does nothing)
-- ARGV[5+2k], ARGV[6+2k] for scope k: its limit in micro-dollars (0 = count only) and the
--          totals' idle TTL in ms (0 = keep)
--
-- hold   returns {0} when held (or already held/settled under this id: idempotent), or
--        {k, spent, held} naming the first scope it does not fit, and holds nothing.
-- settle returns {1} when charged, {0} when this hold was settled before (no double charge).
--
-- A hold expires: a worker killed between hold and settle leaves it, and every later call
-- on the scope first drops the expired holds from `held`. A settle that arrives after its
-- hold expired still charges the real cost (the money was spent).

local record = KEYS[1]
local op = ARGV[1]
local now_ms = tonumber(ARGV[2])
local id = ARGV[3]
local amount = tonumber(ARGV[4])
local keep_ms = tonumber(ARGV[6])
local n = (#KEYS - 1) / 2
local fmt = '%.0f'

local function purge(totals, holds)
  local expired = redis.call('ZRANGEBYSCORE', holds, '-inf', now_ms)
  for _, gone in ipairs(expired) do
    local held = tonumber(redis.call('HGET', totals, 'h:' .. gone) or '0')
    redis.call('HINCRBY', totals, 'held', -held)
    redis.call('HDEL', totals, 'h:' .. gone)
  end
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', holds, '-inf', now_ms)
  end
end

local function touch(totals, holds, ttl_ms, until_ms)
  if ttl_ms > 0 then
    local ms = math.max(ttl_ms, until_ms - now_ms + ttl_ms)
    redis.call('PEXPIRE', totals, string.format(fmt, ms))
    redis.call('PEXPIRE', holds, string.format(fmt, ms))
  end
end

if op == 'hold' then
  if redis.call('EXISTS', record) == 1 then
    return {0}
  end
  local expires_ms = tonumber(ARGV[5])
  for k = 1, n do
    local totals, holds = KEYS[2 * k], KEYS[2 * k + 1]
    purge(totals, holds)
    local limit = tonumber(ARGV[5 + 2 * k])
    local spent = tonumber(redis.call('HGET', totals, 'spent') or '0')
    local held = tonumber(redis.call('HGET', totals, 'held') or '0')
    if limit > 0 and spent + held + amount > limit then
      return {k, spent, held}
    end
  end
  for k = 1, n do
    local totals, holds = KEYS[2 * k], KEYS[2 * k + 1]
    redis.call('HINCRBY', totals, 'held', amount)
    redis.call('HSET', totals, 'h:' .. id, amount)
    redis.call('ZADD', holds, expires_ms, id)
    touch(totals, holds, tonumber(ARGV[6 + 2 * k]), expires_ms)
  end
  redis.call('HSET', record, 'amount', amount, 'state', 'held', 'at_ms', now_ms)
  redis.call('PEXPIRE', record, string.format(fmt, expires_ms - now_ms + keep_ms))
  return {0}
elseif op == 'settle' then
  if redis.call('HGET', record, 'state') == 'settled' then
    return {0}
  end
  local cost = amount
  if cost < 0 then
    cost = tonumber(redis.call('HGET', record, 'amount') or '0')
  end
  for k = 1, n do
    local totals, holds = KEYS[2 * k], KEYS[2 * k + 1]
    purge(totals, holds)
    local held = redis.call('HGET', totals, 'h:' .. id)
    if held then
      redis.call('HINCRBY', totals, 'held', -tonumber(held))
      redis.call('HDEL', totals, 'h:' .. id)
      redis.call('ZREM', holds, id)
    end
    redis.call('HINCRBY', totals, 'spent', cost)
    touch(totals, holds, tonumber(ARGV[6 + 2 * k]), now_ms)
  end
  redis.call('HSET', record, 'state', 'settled')
  redis.call('PEXPIRE', record, string.format(fmt, keep_ms))
  return {1}
end
return redis.error_reply('spend.lua: unknown op ' .. tostring(op))
