-- Spends a second factor's proof, once on every instance: a TOTP code's step, or a recovery code,
-- with what it is spent for, in one step.
-- KEYS[1]  the user's factor      authd:factor:{NAME}
-- KEYS[2]  user hash              authd:user:{NAME}
-- KEYS[3]  for a login, its challenge (authd:challenge:{NAME}:ID), consumed; for a step-up, the
--          session (authd:session:{NAME}:SID), whose assurance changes; absent otherwise
-- ARGV[1]  'code' or 'recovery'; ARGV[2] the code's step, or the recovery code's digest;
-- ARGV[3]  'challenge', 'session' or 'check' (what KEYS[3] is); ARGV[4] now (unix seconds);
-- ARGV[5]  for a step-up, the session's new methods (`amr`)
-- A code is accepted only for a step after the last one accepted (RFC 6238 sec. 5.2): the same code
-- twice, or an older one, is refused, however many instances it is sent to at once.
-- Returns {1, LEFT, PWV, UA, IP, DEVICE}: spent, LEFT recovery codes remain, and a challenge's
-- fields (empty for the others); {0}: the step was spent already, or no such recovery code;
-- {-1}: no active factor; {-2}: the challenge or the session is gone. Nothing changes but on {1}.
if redis.call('HGET', KEYS[2], 'factor') ~= 'totp' or redis.call('EXISTS', KEYS[1]) == 0 then
    return {-1}
end
local use = ARGV[3]
if use ~= 'check' and redis.call('EXISTS', KEYS[3]) == 0 then
    return {-2}
end
if ARGV[1] == 'code' then
    local last = tonumber(redis.call('HGET', KEYS[1], 'step') or '-1')
    if tonumber(ARGV[2]) <= last then
        return {0}
    end
    redis.call('HSET', KEYS[1], 'step', ARGV[2])
elseif redis.call('HDEL', KEYS[1], 'rc:' .. ARGV[2]) == 0 then
    return {0}
end
local left = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(field, 1, 3) == 'rc:' then
        left = left + 1
    end
end
local fields = {'', '', '', ''}
if use == 'challenge' then
    local c = redis.call('HMGET', KEYS[3], 'pwv', 'ua', 'ip', 'device')
    fields = {c[1] or '', c[2] or '', c[3] or '', c[4] or ''}
    redis.call('DEL', KEYS[3])
elseif use == 'session' then
    redis.call('HSET', KEYS[3], 'amr', ARGV[5], 'auth_time', ARGV[4])
end
return {1, left, fields[1], fields[2], fields[3], fields[4]}
