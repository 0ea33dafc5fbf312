-- Ends a session (logout). Idempotent.
-- KEYS[1]  session hash           authd:session:{NAME}:SID
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}
-- ARGV[1]  session id
-- Returns 1 when the session existed, 0 otherwise.
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
