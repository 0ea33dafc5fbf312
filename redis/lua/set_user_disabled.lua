-- Disables a user and ends every session of the user, in one step, or enables the user again
-- (`authd users disable` and `enable`). Disabling bumps the password version too, so that a login
-- that checked the password before this opens no session after it.
-- KEYS[1]  user hash              authd:user:{NAME}
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}
-- KEYS[3..] the session keys the caller read from the index
-- ARGV[1]  the prefix of the user's session keys, authd:session:{NAME}:
-- ARGV[2]  1 to disable, 0 to enable
-- Returns how many sessions were ended; -1 when there is no such user; -2 when the index holds a
-- session whose key is not in KEYS (opened meanwhile): read the index and call again.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return -1
end
if ARGV[2] == '0' then
    redis.call('HDEL', KEYS[1], 'disabled')
    return 0
end
local given = {}
for i = 3, #KEYS do
    given[KEYS[i]] = true
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if not given[ARGV[1] .. id] then
        return -2
    end
end
redis.call('HSET', KEYS[1], 'disabled', '1', 'pwv', tonumber(redis.call('HGET', KEYS[1], 'pwv') or '0') + 1)
local ended = 0
for i = 3, #KEYS do
    ended = ended + redis.call('DEL', KEYS[i])
end
redis.call('DEL', KEYS[2])
return ended
