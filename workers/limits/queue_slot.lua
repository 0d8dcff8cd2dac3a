-- Book the next slot in line for a throttled caller (the twin of queue_slot.next_slot_ms).
-- KEYS[1]  the last slot booked on this key and model (absolute ms, a string)
-- ARGV[1]  now_ms    ARGV[2]  wait_ms (what the buckets said)    ARGV[3]  spacing_ms
-- Returns the caller's wait in ms (slot - now). The key expires a minute after its slot.
local now = tonumber(ARGV[1])
local slot = now + math.max(0, tonumber(ARGV[2]))
local last = redis.call('GET', KEYS[1])
if last then
  slot = math.max(slot, tonumber(last) + tonumber(ARGV[3]))
end
redis.call('SET', KEYS[1], string.format('%d', slot), 'PX', slot - now + 60000)
return slot - now
