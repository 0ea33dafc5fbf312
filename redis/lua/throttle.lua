-- Throttling: per counter, the failures in the current window and the attempts still running,
-- checked and counted before the costly work they guard (a password hash, a sign-up).
-- KEYS     counters, all in one Cluster slot (the caller groups them); a counter's attempts in
--          flight live in KEYS[i] .. ':run'
-- ARGV[1]  'take', 'ok' or 'fail'; then, per key, its limit and its window in seconds:
--          ARGV[2*i], ARGV[2*i+1] for KEYS[i]
-- take:    when a counter's failures reach its limit, counts nothing and returns the seconds until
--          the caller may try again (the longest TTL among the full counters). When failures and
--          attempts in flight together reach it, counts nothing and returns -1: busy, try again in
--          a moment (attempts that may still succeed do not refuse anyone). Otherwise counts one
--          attempt in flight on every key and returns 0. Check and count are one step, so parallel
--          requests can never run more checks than the limit leaves room for failures.
-- ok:      the attempt succeeded: it is no longer in flight. Returns 0.
-- fail:    the attempt failed: it is no longer in flight, and counts as a failure for the window
--          (a new counter lives for its window). Returns 0.
-- An attempt in flight is forgotten after 60 s even if its instance died before it finished.
local action = ARGV[1]
if action == 'take' then
    local wait, busy = 0, false
    for i, key in ipairs(KEYS) do
        local limit = tonumber(ARGV[2 * i])
        local failures = tonumber(redis.call('GET', key) or '0')
        if failures >= limit then
            wait = math.max(wait, redis.call('TTL', key), 1)
        elseif failures + tonumber(redis.call('GET', key .. ':run') or '0') >= limit then
            busy = true
        end
    end
    if wait > 0 then
        return wait
    end
    if busy then
        return -1
    end
    for _, key in ipairs(KEYS) do
        redis.call('INCR', key .. ':run')
        redis.call('EXPIRE', key .. ':run', 60)
    end
    return 0
end
for i, key in ipairs(KEYS) do
    if tonumber(redis.call('GET', key .. ':run') or '0') > 1 then
        redis.call('DECR', key .. ':run')
    else
        redis.call('DEL', key .. ':run')
    end
    if action == 'fail' then
        redis.call('INCR', key)
        redis.call('EXPIRE', key, tonumber(ARGV[2 * i + 1]), 'NX')
    end
end
return 0
