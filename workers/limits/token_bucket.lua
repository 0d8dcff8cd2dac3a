-- Two-bucket (requests + tokens) rate limiter for one (API key fingerprint, model).
--
-- The only code that changes limiter state in Redis. `workers/token_bucket.py` is its
-- reference model: same fixed-point integer arithmetic, same results, tested by one table
-- against the Python model, fakeredis (Lua 5.1 via lupa) and a real redis-server.
--
-- KEYS[1]  the state hash, `redis_keys.rate_limit_key(prefix, fingerprint, model)`.
--          Fields: requests_units, tokens_units, updated_ms, paused_until_ms (integers).
--          A missing hash means both buckets full (the hash expires when idle, see below).
-- ARGV[1]  op: "take" | "reconcile" | "correct" | "pause"
-- ARGV[2]  now_ms: the caller's wall clock in ms since the epoch
-- ARGV[3]  requests_per_min (0 = unlimited)
-- ARGV[4]  tokens_per_min   (0 = unlimited)
-- KEYS[2]  take only, optional: one holder's reservation (`redis_keys.rate_limit_hold_key`),
--          a string with the ms its reserved request is due. Given, a refused take reserves
--          (charges into debt and writes this key); the holder's next take goes once it is
--          due, without a second charge (see take and claim_reserved in token_bucket.py).
-- ARGV[5], ARGV[6] by op:
--   take       ARGV[5] = tokens to charge, ARGV[6] = headroom_ms
--              -> returns {wait_ms (0 = go), whole requests left after it, 1 if reserved}
--   reconcile  ARGV[5] = estimated_tokens, ARGV[6] = actual_tokens -> returns 0
--   correct    ARGV[5] = remaining_requests, ARGV[6] = remaining_tokens (-1 = header absent)
--                                                                 -> returns 0
--   pause      ARGV[5] = paused_until_ms                          -> returns 0
--
-- Time comes from ARGV, not Redis TIME: the Python model takes `now_ms` as a parameter, and
-- passing it here keeps the same table test (with pinned times) identical on every backend.
-- It also keeps the script deterministic for replication. Workers' clocks may disagree a
-- little: an older now_ms refills nothing and never moves updated_ms backwards.
--
-- Fixed point: one request or token = 60000 units, so a limit of L/min refills exactly L
-- units per ms. Lua 5.1 numbers are doubles, exact for integers below 2^53; values are written
-- with "%.0f" because tostring() would print only 14 significant digits.
--
-- TTL: the hash expires IDLE_TTL_MS after the last write (plus any pause still to run).
-- Refilling from the debt floor (-capacity) to full takes 2 minutes, so an expired hash and a
-- hash refilled after 2 idle minutes are the same state: expiry is invisible to callers.

local UNITS = 60000
local FULL_REFILL_MS = 120000
local IDLE_TTL_MS = 120000

local key = KEYS[1]
local op = ARGV[1]
local now_ms = tonumber(ARGV[2])
local rpm = tonumber(ARGV[3])
local tpm = tonumber(ARGV[4])

-- Exact floor(a / b) for integer-valued doubles, guarding against a rounded quotient.
local function floor_div(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

local function ceil_div(a, b)
  return -floor_div(-a, b)
end

local function refill_one(units, limit, elapsed_ms)
  local capacity = limit * UNITS
  if elapsed_ms >= FULL_REFILL_MS then
    return capacity
  end
  return math.min(capacity, units + elapsed_ms * limit)
end

local function wait_for(units, needed, limit)
  if limit == 0 or units >= needed then
    return 0
  end
  return ceil_div(needed - units, limit)
end

local function charge_tokens(units, tokens, limit)
  local capacity = limit * UNITS
  return math.max(-capacity, math.min(capacity, units - tokens * UNITS))
end

-- Load (or start full), then refill to now_ms.
local stored = redis.call('HMGET', key, 'requests_units', 'tokens_units', 'updated_ms',
  'paused_until_ms')
local s = {}
if stored[3] then
  s.requests = tonumber(stored[1])
  s.tokens = tonumber(stored[2])
  s.updated_ms = tonumber(stored[3])
  s.paused_until_ms = tonumber(stored[4]) or 0
else
  s.requests = rpm * UNITS
  s.tokens = tpm * UNITS
  s.updated_ms = now_ms
  s.paused_until_ms = 0
end

local function refill()
  local elapsed_ms = math.max(0, now_ms - s.updated_ms)
  s.requests = refill_one(s.requests, rpm, elapsed_ms)
  s.tokens = refill_one(s.tokens, tpm, elapsed_ms)
  s.updated_ms = math.max(s.updated_ms, now_ms)
end

local function save()
  local fmt = '%.0f'
  redis.call('HSET', key,
    'requests_units', string.format(fmt, s.requests),
    'tokens_units', string.format(fmt, s.tokens),
    'updated_ms', string.format(fmt, s.updated_ms),
    'paused_until_ms', string.format(fmt, s.paused_until_ms))
  local ttl_ms = IDLE_TTL_MS + math.max(0, s.paused_until_ms - now_ms)
  redis.call('PEXPIRE', key, string.format(fmt, ttl_ms))
end

local result = 0
if op == 'take' then
  local tokens = tonumber(ARGV[5])
  local headroom_ms = tonumber(ARGV[6]) or 0
  local held = KEYS[2]
  refill()
  if held then
    local due = redis.call('GET', held)
    if due then
      -- Charged when it reserved: go once due (and no pause holds the key); no state changes.
      local wait_ms = math.max(tonumber(due) - now_ms, s.paused_until_ms - now_ms, 0)
      local still = 1
      if wait_ms == 0 then
        redis.call('DEL', held)
        still = 0
      end
      return {wait_ms, floor_div(s.requests, UNITS), still}
    end
  end
  local needed_tokens = math.min(tokens, tpm) * UNITS
  -- A take leaves `headroom_ms` of refill behind (see Limits.headroom_ms), at most the bucket.
  local needed_requests = math.min(UNITS + headroom_ms * rpm, rpm * UNITS)
  local wait_ms = math.max(
    s.paused_until_ms - now_ms,
    wait_for(s.requests, needed_requests, rpm),
    wait_for(s.tokens, needed_tokens, tpm),
    0)
  -- A holder refused only for want of refill reserves, unless that passes a debt floor.
  local reserved = 0
  if wait_ms > 0 and held and s.paused_until_ms <= now_ms
      and (rpm == 0 or s.requests - UNITS >= -rpm * UNITS)
      and (tpm == 0 or s.tokens - tokens * UNITS >= -tpm * UNITS) then
    reserved = 1
  end
  if wait_ms == 0 or reserved == 1 then
    if rpm > 0 then
      s.requests = s.requests - UNITS
    else
      s.requests = 0
    end
    s.tokens = charge_tokens(s.tokens, tokens, tpm)
  end
  if reserved == 1 then
    redis.call('SET', held, string.format('%.0f', now_ms + wait_ms),
      'PX', string.format('%.0f', wait_ms + 60000))
  end
  result = {wait_ms, floor_div(s.requests, UNITS), reserved}
elseif op == 'reconcile' then
  refill()
  s.tokens = charge_tokens(s.tokens, tonumber(ARGV[6]) - tonumber(ARGV[5]), tpm)
elseif op == 'correct' then
  refill()
  local remaining_requests = tonumber(ARGV[5])
  local remaining_tokens = tonumber(ARGV[6])
  -- Only ever lower: other clients may share the key, so the provider's count can only tell
  -- us there is less than we thought (see correct_from_headers in token_bucket.py).
  if remaining_requests >= 0 and rpm > 0 then
    s.requests = math.min(s.requests, remaining_requests * UNITS)
  end
  if remaining_tokens >= 0 and tpm > 0 then
    s.tokens = math.min(s.tokens, remaining_tokens * UNITS)
  end
elseif op == 'pause' then
  s.paused_until_ms = math.max(s.paused_until_ms, tonumber(ARGV[5]))
else
  return redis.error_reply('token_bucket.lua: unknown op ' .. tostring(op))
end

save()
return result
