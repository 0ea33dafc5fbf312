-- Changes a user's password and ends every session of the user, in one step, if the password
-- version is still the one the caller checked the current password against.
-- KEYS[1]  user hash              authd:user:{NAME}
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}
-- KEYS[3..] the session keys the caller read from the index (every key a script touches is in
--          KEYS, so that Redis Cluster routes and migrates them with the call)
-- ARGV[1]  the password version the caller checked, ARGV[2] the new password hash (PHC string),
-- ARGV[3]  the prefix of the user's session keys, authd:session:{NAME}:
-- Returns how many sessions were ended; -1 when the password changed meanwhile; -2 when the index
-- holds a session whose key is not in KEYS (opened meanwhile): read the index and call again.
-- Nothing is done in either case.
if redis.call('EXISTS', KEYS[1]) == 0 or (redis.call('HGET', KEYS[1], 'pwv') or '0') ~= ARGV[1] then
    return -1
end
local given = {}
for i = 3, #KEYS do
    given[KEYS[i]] = true
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if not given[ARGV[3] .. id] then
        return -2
    end
end
redis.call('HSET', KEYS[1], 'password', ARGV[2], 'pwv', tonumber(ARGV[1]) + 1)
local ended = 0
for i = 3, #KEYS do
    ended = ended + redis.call('DEL', KEYS[i])
end
redis.call('DEL', KEYS[2])
return ended
