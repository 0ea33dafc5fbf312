-- Revokes one access token (RFC 7009) until it would have expired anyway.
-- KEYS[1]  session hash           authd:session:{NAME}:SID
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}
-- ARGV[1]  the access token's id (jti), ARGV[2] its expiry, ARGV[3] now (unix seconds, authd's
--          clock), ARGV[4] most denied tokens a session may carry at once, ARGV[5] the session id
-- The denial is a field `deny:JTI` of the session whose value is the token's expiry, so the access
-- check reads it in the same HMGET. Fields of tokens that have expired are dropped here, and a
-- session that would carry more than ARGV[4] live denials is ended instead: the hash stays bounded
-- however often a client refreshes and revokes.
-- Returns 1 when the token is denied, 2 when its session was ended instead, 0 when there is none.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return 0
end
local now = tonumber(ARGV[3])
local live = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(field, 1, 5) == 'deny:' then
        if tonumber(redis.call('HGET', KEYS[1], field)) < now then
            redis.call('HDEL', KEYS[1], field)
        else
            live = live + 1
        end
    end
end
if live >= tonumber(ARGV[4]) then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], ARGV[5])
    return 2
end
redis.call('HSET', KEYS[1], 'deny:' .. ARGV[1], ARGV[2])
return 1
