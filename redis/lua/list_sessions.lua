-- Lists a user's live sessions, pruning the index of expired ones first.
-- KEYS[1]  the user's sessions    authd:sessions:{NAME}
-- KEYS[2..] the session keys the caller read from the index (every key a script touches is in
--          KEYS, so that Redis Cluster routes and migrates them with the call)
-- ARGV[1]  the prefix of the user's session keys, authd:session:{NAME}:
-- ARGV[2]  now (unix seconds, authd's clock)
-- Returns a flat array: id, {field, value, ...}, id, {...}, ...; or -2 when the index holds a live
-- session whose key is not in KEYS (opened meanwhile): read the index and call again.
local given = {}
for i = 2, #KEYS do
    given[KEYS[i]] = true
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf')
for _, id in ipairs(ids) do
    if not given[ARGV[1] .. id] then
        return -2
    end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local result = {}
for _, id in ipairs(ids) do
    local fields = redis.call('HGETALL', ARGV[1] .. id)
    if #fields > 0 then
        result[#result + 1] = id
        result[#result + 1] = fields
    else
        redis.call('ZREM', KEYS[1], id)
    end
end
return result
