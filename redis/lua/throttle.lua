-- Login throttling: fixed-window failure counters.
-- KEYS     counters, all in one Cluster slot (the caller groups them)
-- ARGV[1]  'check' or 'hit'; then, per key, its limit and its window in seconds:
--          ARGV[2*i], ARGV[2*i+1] for KEYS[i]
-- check:   returns how many seconds until the caller may try again (0: now)
-- hit:     counts one failure on every key; a new counter lives for its window. Returns 0.
local wait = 0
for i, key in ipairs(KEYS) do
    local limit, window = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
    if ARGV[1] == 'hit' then
        redis.call('INCR', key)
        redis.call('EXPIRE', key, window, 'NX')
    else
        local count = tonumber(redis.call('GET', key) or '0')
        if count >= limit then
            wait = math.max(wait, redis.call('TTL', key))
        end
    end
end
return wait
