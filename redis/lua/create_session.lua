-- Opens a session and indexes it under its user, if the password the login checked is still the
-- user's: a password change between the check and this script wins.
-- KEYS[1]  session hash           authd:session:{NAME}:SID
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}   (sorted set: SID scored by expiry)
-- KEYS[3]  user hash              authd:user:{NAME}
-- KEYS[4..] when the user is at the cap, the keys of the sessions the eviction may end, as the
--          script named them (below): every key it touches is in KEYS
-- ARGV[1]  session id, ARGV[2] refresh token id, ARGV[3] now,
-- ARGV[4]  refresh token expiry, ARGV[5] absolute session expiry (unix seconds, authd's clock),
-- ARGV[6]  user agent, ARGV[7] client IP (either may be empty),
-- ARGV[8]  the password version the login checked, ARGV[9] most sessions a user may hold,
-- ARGV[10] how the user authenticated (`amr`: `pwd`, or `pwd,otp`), ARGV[11] when (auth_time)
-- Times are sent by authd, so TTLs are relative and immune to clock skew between authd and Redis.
-- The session takes the user's roles (field `roles`, comma-separated): verify reads them from it, and
-- set_user_roles.lua changes them in every session of the user.
-- A user with a second factor (the user hash's `factor`) gets no session from a password alone: an
-- enrolment confirmed between the password check and this script wins too.
-- Returns {1, ROLES, SID...} when the session is open, with the roles it took and the sessions the cap
-- ended; 0 when the user is gone, the password changed meanwhile, or a second factor is now needed;
-- {-2, SID...} when the user is at the cap and KEYS holds too few live sessions to end: nothing is
-- done, and the caller calls again with those sessions' keys.
if redis.call('EXISTS', KEYS[3]) == 0 or (redis.call('HGET', KEYS[3], 'pwv') or '0') ~= ARGV[8] then
    return 0
end
local amr, authTime = ARGV[10] or 'pwd', ARGV[11] or ARGV[3]
if redis.call('HGET', KEYS[3], 'factor') and not string.find(amr, 'otp', 1, true) then
    return 0
end
local now = tonumber(ARGV[3])
local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
-- Over the cap, the sessions closest to expiry (the least recently used) end first; among equals,
-- in the index's order. Never this one. Only sessions whose keys were given can be ended: when too
-- few of them are still live (logins at once end each other's candidates), nothing is done, and
-- the script names the next candidates, a few more than it needs, for the caller's next call.
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
local evicted = {}
local excess = #live + 1 - tonumber(ARGV[9])
if excess > 0 then
    local given = {}
    for i = 4, #KEYS do
        given[KEYS[i]] = true
    end
    for _, id in ipairs(live) do
        if #evicted == excess then
            break
        end
        if id ~= ARGV[1] and given[prefix .. id] then
            evicted[#evicted + 1] = id
        end
    end
    if #evicted < excess then
        local candidates = {-2}
        for i = 1, math.min(#live, excess + 8) do
            if live[i] ~= ARGV[1] then
                candidates[#candidates + 1] = live[i]
            end
        end
        return candidates
    end
end
local ttl = tonumber(ARGV[4]) - now
local roles = redis.call('HGET', KEYS[3], 'roles') or ''
redis.call('HSET', KEYS[1], 'rt', ARGV[2], 'rt_exp', ARGV[4], 'created', ARGV[3], 'last_used', ARGV[3],
    'expires', ARGV[5], 'ua', ARGV[6], 'ip', ARGV[7], 'roles', roles, 'amr', amr, 'auth_time', authTime)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
-- Drop sessions that expired since, so the index cannot grow without bound.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(evicted) do
    redis.call('DEL', prefix .. id)
    redis.call('ZREM', KEYS[2], id)
end
-- The index lives as long as its longest-lived session.
redis.call('EXPIRE', KEYS[2], ttl, 'NX')
redis.call('EXPIRE', KEYS[2], ttl, 'GT')
local opened = {1, roles}
for _, id in ipairs(evicted) do
    opened[#opened + 1] = id
end
return opened
