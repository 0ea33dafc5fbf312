-- Throttling: per counter, the failures in the current window and the attempts still running,
-- checked and counted before the costly work they guard (a password hash, a sign-up).
-- KEYS     pairs, all in one Cluster slot (the caller groups them): KEYS[2i-1] a counter of
--          failures, KEYS[2i] its attempts in flight (the counter's name and ':run')
-- ARGV[1]  'take', 'ok' or 'fail'; then, per pair, its limit and its window in seconds:
--          ARGV[2i], ARGV[2i+1] for pair i
-- take:    when a counter's failures reach its limit, counts nothing and returns the seconds until
--          the caller may try again (the longest TTL among the full counters). When failures and
--          attempts in flight together reach it, counts nothing and returns -1: busy, try again in
--          a moment (attempts that may still succeed do not refuse anyone). Otherwise counts one
--          attempt in flight on every pair and returns 0. Check and count are one step, so parallel
--          requests can never run more checks than the limit leaves room for failures.
-- ok:      the attempt succeeded: it is no longer in flight. Returns 0.
-- fail:    the attempt failed: it is no longer in flight, and counts as a failure for the window
--          (a new counter lives for its window). Returns 0.
-- An attempt in flight is forgotten after 60 s even if its instance died before it finished.
local action = ARGV[1]
local count = #KEYS / 2
if action == 'take' then
    local wait, busy = 0, false
    for i = 1, count do
        local key, running = KEYS[2 * i - 1], KEYS[2 * i]
        local limit = tonumber(ARGV[2 * i])
        local failures = tonumber(redis.call('GET', key) or '0')
        if failures >= limit then
            wait = math.max(wait, redis.call('TTL', key), 1)
        elseif failures + tonumber(redis.call('GET', running) or '0') >= limit then
            busy = true
        end
    end
    if wait > 0 then
        return wait
    end
    if busy then
        return -1
    end
    for i = 1, count do
        redis.call('INCR', KEYS[2 * i])
        redis.call('EXPIRE', KEYS[2 * i], 60)
    end
    return 0
end
for i = 1, count do
    local key, running = KEYS[2 * i - 1], KEYS[2 * i]
    if tonumber(redis.call('GET', running) or '0') > 1 then
        redis.call('DECR', running)
    else
        redis.call('DEL', running)
    end
    if action == 'fail' then
        redis.call('INCR', key)
        redis.call('EXPIRE', key, tonumber(ARGV[2 * i + 1]), 'NX')
    end
end
return 0
