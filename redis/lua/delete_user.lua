-- Deletes a user and every session of the user, in one step (`authd users delete`).
-- KEYS[1]  user hash              authd:user:{NAME}
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}
-- KEYS[3..] the session keys the caller read from the index
-- ARGV[1]  the prefix of the user's session keys, authd:session:{NAME}:
-- Returns how many sessions were ended; -1 when there is no such user; -2 when the index holds a
-- session whose key is not in KEYS (opened meanwhile): read the index and call again. Nothing is
-- done in either case. A login in flight then finds no user, and opens no session.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return -1
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
local ended = 0
for i = 3, #KEYS do
    ended = ended + redis.call('DEL', KEYS[i])
end
redis.call('DEL', KEYS[2], KEYS[1])
return ended
