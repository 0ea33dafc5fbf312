-- After a rotation whose WAIT timed out (its 503 told the client to retry): lets the token it
-- replaced be presented again, and answered as a duplicate (the current pair), until ARGV[3],
-- however long the grace window. Without this, the client's retry after the grace window would
-- be judged reuse, and a request that failed would end the session. Only while the rotation that
-- failed to confirm is the session's latest.
-- KEYS[1]  the session hash       authd:session:{NAME}:ID
-- ARGV[1]  the token the rotation replaced, ARGV[2] the token it made, ARGV[3] until when (unix s)
-- Returns 1 when marked, 0 when the session is gone or has rotated again since.
if redis.call('HGET', KEYS[1], 'rt') ~= ARGV[2] then
    return 0
end
redis.call('HSET', KEYS[1], 'unconfirmed', ARGV[1], 'unconfirmed_until', ARGV[3])
return 1
