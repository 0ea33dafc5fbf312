-- Opens a session and indexes it under its user, if the password the login checked is still the
-- user's: a password change between the check and this script wins.
-- KEYS[1]  session hash           authd:session:{NAME}:SID
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}   (sorted set: SID scored by expiry)
-- KEYS[3]  user hash              authd:user:{NAME}
-- ARGV[1]  session id, ARGV[2] refresh token id, ARGV[3] now,
-- ARGV[4]  refresh token expiry, ARGV[5] absolute session expiry (unix seconds, authd's clock),
-- ARGV[6]  user agent, ARGV[7] client IP (either may be empty),
-- ARGV[8]  the password version the login checked, ARGV[9] most sessions a user may hold
-- Times are sent by authd, so TTLs are relative and immune to clock skew between authd and Redis.
-- Returns 1 when the session is open; 0 when the user is gone or the password changed meanwhile.
if redis.call('EXISTS', KEYS[3]) == 0 or (redis.call('HGET', KEYS[3], 'pwv') or '0') ~= ARGV[8] then
    return 0
end
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4]) - now
redis.call('HSET', KEYS[1], 'rt', ARGV[2], 'rt_exp', ARGV[4], 'created', ARGV[3], 'last_used', ARGV[3],
    'expires', ARGV[5], 'ua', ARGV[6], 'ip', ARGV[7])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
-- Drop sessions that expired since, so the index cannot grow without bound.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
-- Over the cap, the sessions closest to expiry (the least recently used) end first, the oldest
-- first among equals; never this one.
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[9])
if excess > 0 then
    local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
    local flat = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    local candidates = {}
    for i = 1, #flat, 2 do
        if flat[i] ~= ARGV[1] then
            local created = tonumber(redis.call('HGET', prefix .. flat[i], 'created') or '0')
            candidates[#candidates + 1] = {flat[i], tonumber(flat[i + 1]), created}
        end
    end
    table.sort(candidates, function(a, b)
        if a[2] ~= b[2] then return a[2] < b[2] end
        return a[3] < b[3]
    end)
    for i = 1, math.min(excess, #candidates) do
        redis.call('DEL', prefix .. candidates[i][1])
        redis.call('ZREM', KEYS[2], candidates[i][1])
    end
end
-- The index lives as long as its longest-lived session.
redis.call('EXPIRE', KEYS[2], ttl, 'NX')
redis.call('EXPIRE', KEYS[2], ttl, 'GT')
return 1
