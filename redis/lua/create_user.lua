-- Creates a user unless the name is taken, by a user or by a registered client.
-- KEYS[1]  user hash                      authd:user:{NAME}
-- KEYS[2]  the client hash of that name   authd:client:{NAME}   (the same hash tag: one slot)
-- ARGV[1]  password hash (PHC string), ARGV[2] now (unix seconds)
-- The password version `pwv` starts at 1; every password change adds one, and a login opens a
-- session only if the version it checked is still the current one (create_session.lua).
-- Returns 1 when created, 0 when the name is taken.
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
    return 0
end
redis.call('HSET', KEYS[1], 'password', ARGV[1], 'created', ARGV[2], 'pwv', 1)
return 1
