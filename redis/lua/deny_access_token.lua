-- Revokes one access token (RFC 7009) until it would have expired anyway.
-- KEYS[1]  session hash           authd:session:{NAME}:SID
-- ARGV[1]  the access token's id (jti)
-- The denial is a field of the session, so it lives exactly as long as the session can still
-- vouch for the token, and the access check reads it in the same HMGET.
-- Returns 1 when the session exists.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return 0
end
redis.call('HSET', KEYS[1], 'deny:' .. ARGV[1], '1')
return 1
