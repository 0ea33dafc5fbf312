-- Ends every session of a user, or every one but one (logout scope "others").
-- KEYS[1]  the user's sessions    authd:sessions:{NAME}
-- ARGV[1]  the prefix of the user's session keys, authd:session:{NAME}:
-- ARGV[2]  the session id to keep, or '' to end them all
-- The session keys are derived from the index; they share its hash tag, so its Cluster slot.
-- Returns how many sessions were ended.
local ended = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if id ~= ARGV[2] then
        ended = ended + redis.call('DEL', ARGV[1] .. id)
        redis.call('ZREM', KEYS[1], id)
    end
end
return ended
