-- Revokes one access token (RFC 7009) until it would have expired anyway: a user's, in its
-- session's hash, or a registered client's own, in the client's hash (the hash verify reads).
-- KEYS[1]  session hash           authd:session:{NAME}:SID, or the client hash authd:client:{ID}
-- KEYS[2]  a session's: the user's sessions   authd:sessions:{NAME}   (a client's: none)
-- ARGV[1]  the access token's id (jti), ARGV[2] its expiry, ARGV[3] now (unix seconds, authd's
--          clock), ARGV[4] most denied tokens the hash may carry at once, ARGV[5] the session id,
--          or the id of the secret a client's token was granted with, ARGV[6] 'session' or 'client'
-- The denial is a field `deny:JTI` of the hash whose value is the token's expiry, so the access
-- check reads it in the same HMGET. Fields of tokens that have expired are dropped here, and past
-- ARGV[4] live denials a session is ended instead, and a client loses the token's secret instead
-- (every token granted with it fails): the hash stays bounded however often a client revokes.
-- Returns 1 when the token is denied, 2 when its session (or secret) was ended instead, 0 when it
-- is gone already.
local client = ARGV[6] == 'client'
if client then
    if redis.call('HEXISTS', KEYS[1], 'secret:' .. ARGV[5]) == 0 then
        return 0
    end
elseif redis.call('EXISTS', KEYS[1]) == 0 then
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
    if client then
        redis.call('HDEL', KEYS[1], 'secret:' .. ARGV[5], 'secret_at:' .. ARGV[5])
    else
        redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[5])
    end
    return 2
end
redis.call('HSET', KEYS[1], 'deny:' .. ARGV[1], ARGV[2])
return 1
