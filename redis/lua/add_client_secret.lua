-- Adds a secret to a client, so that the old one can be retired after the new one is deployed.
-- KEYS[1]  client hash   authd:client:{ID}
-- ARGV[1]  the secret's id, ARGV[2] its SHA-256 (hex), ARGV[3] now (unix seconds), ARGV[4] the
--          most secrets a client may hold
-- Returns 1 when added, 0 when the client holds ARGV[4] secrets already, -1 when there is no client.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return -1
end
local held = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(field, 1, 7) == 'secret:' then
        held = held + 1
    end
end
if held >= tonumber(ARGV[4]) then
    return 0
end
redis.call('HSET', KEYS[1], 'secret:' .. ARGV[1], ARGV[2], 'secret_at:' .. ARGV[1], ARGV[3])
return 1
