-- Registers a client with its first secret, unless the name is taken by a client or a user.
-- KEYS[1]  client hash                  authd:client:{ID}
-- KEYS[2]  the user hash of that name   authd:user:{ID}   (the same hash tag: one slot)
-- ARGV[1]  now (unix seconds), ARGV[2] permissions, ARGV[3] audiences, ARGV[4] roles (each
--          comma-separated, maybe empty), ARGV[5] token lifetime in seconds ('' for the default),
--          ARGV[6] the secret's id, ARGV[7] its SHA-256 (hex)
-- Client ids and user names share one namespace, so that a token's `sub` names one of them only;
-- create_user.lua checks the other way round.
-- Returns 1 when registered, 0 when the name is taken.
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
    return 0
end
redis.call('HSET', KEYS[1], 'created', ARGV[1], 'may', ARGV[2], 'aud', ARGV[3], 'roles', ARGV[4],
    'secret:' .. ARGV[6], ARGV[7], 'secret_at:' .. ARGV[6], ARGV[1])
if ARGV[5] ~= '' then
    redis.call('HSET', KEYS[1], 'ttl', ARGV[5])
end
return 1
