-- Rotates a session's refresh token: check and replace in one atomic step.
-- KEYS[1]  session hash           authd:session:{NAME}:SID
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}
-- ARGV[1]  session id, ARGV[2] presented refresh token id, ARGV[3] next refresh token id,
-- ARGV[4]  now, ARGV[5] wanted expiry of the next refresh token (unix seconds, authd's clock)
-- Returns {1, expiry} when rotated (expiry capped at the session's absolute end),
--         {0} when the session does not exist, {-1} when the presented token was already
--         rotated away: then the whole session is revoked (RFC 9700 section 4.14.2).
local session = redis.call('HMGET', KEYS[1], 'rt', 'expires')
local current, absolute = session[1], tonumber(session[2])
if not current then
    return {0}
end
if current ~= ARGV[2] then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], ARGV[1])
    return {-1}
end
local now = tonumber(ARGV[4])
local expiry = math.min(tonumber(ARGV[5]), absolute)
if expiry <= now then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], ARGV[1])
    return {0}
end
local ttl = expiry - now
redis.call('HSET', KEYS[1], 'rt', ARGV[3], 'last_used', ARGV[4])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], expiry, ARGV[1])
redis.call('EXPIRE', KEYS[2], ttl, 'NX')
redis.call('EXPIRE', KEYS[2], ttl, 'GT')
return {1, expiry}
