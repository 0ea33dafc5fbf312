-- Changes a user's password and ends every session of the user, in one step, if the password
-- version is still the one the caller checked the current password against.
-- KEYS[1]  user hash              authd:user:{NAME}
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}
-- ARGV[1]  the password version the caller checked, ARGV[2] the new password hash (PHC string),
-- ARGV[3]  the prefix of the user's session keys, authd:session:{NAME}:
-- Returns how many sessions were ended, or -1 when the password changed meanwhile (nothing done).
if redis.call('EXISTS', KEYS[1]) == 0 or (redis.call('HGET', KEYS[1], 'pwv') or '0') ~= ARGV[1] then
    return -1
end
redis.call('HSET', KEYS[1], 'password', ARGV[2], 'pwv', tonumber(ARGV[1]) + 1)
local ended = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    ended = ended + redis.call('DEL', ARGV[3] .. id)
end
redis.call('DEL', KEYS[2])
return ended
