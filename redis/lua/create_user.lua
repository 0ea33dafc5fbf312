-- Creates a user unless the name is taken.
-- KEYS[1]  user hash              authd:user:{NAME}
-- ARGV[1]  password hash (PHC string), ARGV[2] now (unix seconds)
-- Returns 1 when created, 0 when the name is taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
end
redis.call('HSET', KEYS[1], 'password', ARGV[1], 'created', ARGV[2])
return 1
