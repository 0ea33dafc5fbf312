-- Revokes one of a client's own tokens (RFC 7009) until it would have expired anyway.
-- KEYS[1]  client hash   authd:client:{ID}
-- ARGV[1]  the token's id (jti), ARGV[2] its expiry, ARGV[3] now (unix seconds, authd's clock),
--          ARGV[4] most denied tokens a client may carry at once, ARGV[5] the id of the secret the
--          token was granted with
-- As deny_access_token.lua does for a session: the denial is a field `deny:JTI` (the token's
-- expiry) that verify reads in its HMGET, fields of expired tokens are dropped here, and a client
-- that would carry more than ARGV[4] live denials loses the token's secret instead (every token
-- granted with it fails): the hash stays bounded.
-- Returns 1 when the token is denied, 2 when its secret was revoked instead, 0 when the client or
-- the secret is gone already.
if redis.call('HEXISTS', KEYS[1], 'secret:' .. ARGV[5]) == 0 then
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
    redis.call('HDEL', KEYS[1], 'secret:' .. ARGV[5], 'secret_at:' .. ARGV[5])
    return 2
end
redis.call('HSET', KEYS[1], 'deny:' .. ARGV[1], ARGV[2])
return 1
