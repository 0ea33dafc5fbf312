-- Revokes one secret of a client: it authenticates no more, and every token granted with it fails
-- its next check (verify reads `secret:SID`). The client's other secrets keep working.
-- KEYS[1]  client hash   authd:client:{ID}
-- ARGV[1]  the secret's id
-- Returns 1 when removed, 0 when the client has no such secret, -1 when there is no client.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return -1
end
local removed = redis.call('HDEL', KEYS[1], 'secret:' .. ARGV[1])
redis.call('HDEL', KEYS[1], 'secret_at:' .. ARGV[1])
return removed
