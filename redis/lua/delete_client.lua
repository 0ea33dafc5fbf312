-- Removes a client: its secrets authenticate no more, and every token granted to it fails its
-- next check.
-- KEYS[1]  client hash   authd:client:{ID}
-- Returns 1 when removed, 0 when there was no client.
return redis.call('DEL', KEYS[1])
