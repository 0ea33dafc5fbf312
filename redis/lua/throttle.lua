-- Throttling: fixed-window attempt counters, counted before the costly work they guard.
-- KEYS     counters, all in one Cluster slot (the caller groups them)
-- ARGV[1]  'take' or 'give'; then, per key, its limit and its window in seconds:
--          ARGV[2*i], ARGV[2*i+1] for KEYS[i]
-- take:    when any counter is at its limit, counts nothing and returns the seconds until the
--          caller may try again (the longest TTL among the full counters); otherwise counts one
--          attempt on every key (a new counter lives for its window) and returns 0. Check and count
--          are one step, so parallel requests can never take more than the limit between them.
-- give:    gives one attempt back on every key (the attempt succeeded); a counter back at zero is
--          deleted, so successes leave no keys. Returns 0.
if ARGV[1] == 'give' then
    for _, key in ipairs(KEYS) do
        if tonumber(redis.call('GET', key) or '0') > 1 then
            redis.call('DECR', key)
        else
            redis.call('DEL', key)
        end
    end
    return 0
end
local wait = 0
for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[2 * i])
    if tonumber(redis.call('GET', key) or '0') >= limit then
        wait = math.max(wait, redis.call('TTL', key), 1)
    end
end
if wait > 0 then
    return wait
end
for i, key in ipairs(KEYS) do
    redis.call('INCR', key)
    redis.call('EXPIRE', key, tonumber(ARGV[2 * i + 1]), 'NX')
end
return 0
