-- Starts a TOTP enrolment: keeps the new secret, sealed, until the first valid code confirms it.
-- KEYS[1]  the user's factor      authd:factor:{NAME}
-- KEYS[2]  user hash              authd:user:{NAME}
-- ARGV[1]  the sealed secret, ARGV[2] when the enrolment lapses (unix seconds, authd's clock),
-- ARGV[3]  now
-- The user hash's field `factor` (`totp`) says whether a factor is active: the factor key alone
-- never makes one (a key left behind by a deleted user of the same name is overwritten here).
-- Returns 1 when started; -1 when a factor is active already; -2 when there is no such user.
if redis.call('EXISTS', KEYS[2]) == 0 then
    return -2
end
if redis.call('HGET', KEYS[2], 'factor') then
    return -1
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'pending', ARGV[1], 'pending_exp', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]) - tonumber(ARGV[3]))
return 1
