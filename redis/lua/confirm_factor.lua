-- Confirms a TOTP enrolment with its first valid code: the pending secret becomes the user's
-- factor, with its recovery codes, in one step.
-- KEYS[1]  the user's factor      authd:factor:{NAME}
-- KEYS[2]  user hash              authd:user:{NAME}
-- ARGV[1]  the sealed pending secret the caller checked the code against, ARGV[2] the step of that
--          code (no code of it or before it is accepted again), ARGV[3] now (unix seconds),
-- ARGV[4..] the recovery codes' digests
-- The factor: hash `secret` (sealed), `step` (the last step accepted), `confirmed` (unix seconds),
-- and `rc:DIGEST` for each recovery code not yet used. No TTL.
-- Returns 1 when confirmed; 0 when the enrolment is not the one checked (lapsed, or another began);
-- -1 when a factor is active already; -2 when there is no such user.
if redis.call('EXISTS', KEYS[2]) == 0 then
    return -2
end
if redis.call('HGET', KEYS[2], 'factor') then
    return -1
end
local pending = redis.call('HMGET', KEYS[1], 'pending', 'pending_exp')
if pending[1] ~= ARGV[1] or tonumber(pending[2] or '0') < tonumber(ARGV[3]) then
    return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'step', ARGV[2], 'confirmed', ARGV[3])
for i = 4, #ARGV do
    redis.call('HSET', KEYS[1], 'rc:' .. ARGV[i], '1')
end
redis.call('HSET', KEYS[2], 'factor', 'totp')
return 1
