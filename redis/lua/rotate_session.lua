-- Rotates a session's refresh token: check and replace in one atomic step.
-- KEYS[1]  session hash           authd:session:{NAME}:SID
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}
-- ARGV[1]  session id, ARGV[2] presented refresh token id, ARGV[3] next refresh token id,
-- ARGV[4]  now, ARGV[5] wanted expiry of the next refresh token (unix seconds, authd's clock),
-- ARGV[6]  grace window in seconds
-- ARGV[7]  the caller's deadline in Redis's clock (TIME, in ms; 0 for none): past it, the caller has
--          given up and answered 503, so the script does nothing. A rotation that ran after a stall
--          would otherwise count against the client's retry with the same token (judged reuse).
-- Returns
--   {1, expiry, roles, amr, auth_time}
--                           rotated: ARGV[3] is now the one valid token; expiry is capped at the
--                           session's end; roles are the session's (comma-separated), and how and
--                           when its user authenticated, for the new access token;
--   {2, id, expiry, roles, amr, auth_time}
--                           the presented token was rotated away less than the grace window ago
--                           (two tabs refreshing at once), or by a rotation answered 503
--                           (mark_unconfirmed.lua) not long ago: nothing changes, and the caller
--                           re-issues the current token `id`, so the session never forks into two
--                           live chains;
--   {0}                     no such session (logged out, revoked or expired);
--   {-1}                    the presented token was rotated away before the grace window: it may
--                           have been stolen, so the whole session is revoked (RFC 9700 sec. 4.14.2);
--   {-3}                    past the deadline: nothing changed.
local deadline = tonumber(ARGV[7] or '0')
if deadline > 0 then
    local t = redis.call('TIME')
    if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline then
        return {-3}
    end
end
local s = redis.call('HMGET', KEYS[1], 'rt', 'expires', 'prev', 'rotated_at', 'rt_exp', 'unconfirmed',
    'unconfirmed_until', 'roles', 'amr', 'auth_time')
local current, absolute, previous, rotatedAt = s[1], tonumber(s[2]), s[3], tonumber(s[4] or '0')
if not current then
    return {0}
end
local now = tonumber(ARGV[4])
if current ~= ARGV[2] then
    local grace = tonumber(ARGV[6])
    -- The rotation that replaced it was answered 503 (mark_unconfirmed.lua): its retry is no reuse.
    local unconfirmed = s[6] == ARGV[2] and now <= tonumber(s[7] or '0')
    if previous == ARGV[2] and ((grace > 0 and now - rotatedAt <= grace) or unconfirmed) then
        return {2, current, tonumber(s[5]), s[8] or '', s[9] or '', s[10] or ''}
    end
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], ARGV[1])
    return {-1}
end
local expiry = math.min(tonumber(ARGV[5]), absolute)
if expiry <= now then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], ARGV[1])
    return {0}
end
local ttl = expiry - now
redis.call('HSET', KEYS[1], 'rt', ARGV[3], 'rt_exp', expiry, 'prev', current, 'rotated_at', ARGV[4],
    'last_used', ARGV[4])
redis.call('HDEL', KEYS[1], 'unconfirmed', 'unconfirmed_until')
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], expiry, ARGV[1])
redis.call('EXPIRE', KEYS[2], ttl, 'NX')
redis.call('EXPIRE', KEYS[2], ttl, 'GT')
return {1, expiry, s[8] or '', s[9] or '', s[10] or ''}
