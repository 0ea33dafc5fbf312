-- Lists a user's live sessions, pruning the index of expired ones first.
-- KEYS[1]  the user's sessions    authd:sessions:{NAME}
-- ARGV[1]  the prefix of the user's session keys, authd:session:{NAME}:
-- ARGV[2]  now (unix seconds, authd's clock)
-- Returns a flat array: id, {field, value, ...}, id, {...}, ...
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local result = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local fields = redis.call('HGETALL', ARGV[1] .. id)
    if #fields > 0 then
        result[#result + 1] = id
        result[#result + 1] = fields
    else
        redis.call('ZREM', KEYS[1], id)
    end
end
return result
