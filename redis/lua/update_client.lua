-- Changes a registered client's permissions, audiences, roles or token lifetime, in one step. A
-- permission or audience taken away is a revocation: verify reads `may` at every check, and the
-- caller runs the barrier after this.
-- KEYS[1]  client hash   authd:client:{ID}
-- ARGV     pairs: FIELD VALUE to set, or FIELD and '' to delete (`ttl`: back to the default);
--          FIELD is one of may, aud, roles, ttl
-- Returns 1 when changed, 0 when there is no client.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return 0
end
for i = 1, #ARGV, 2 do
    local field, value = ARGV[i], ARGV[i + 1]
    if field == 'may' or field == 'aud' or field == 'roles' or field == 'ttl' then
        if value == '' and field == 'ttl' then
            redis.call('HDEL', KEYS[1], field)
        else
            redis.call('HSET', KEYS[1], field, value)
        end
    end
end
return 1
