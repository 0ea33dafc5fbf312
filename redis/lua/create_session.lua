-- Opens a session and indexes it under its user.
-- KEYS[1]  session hash           authd:session:{NAME}:SID
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}   (sorted set: SID scored by expiry)
-- ARGV[1]  session id, ARGV[2] refresh token id, ARGV[3] now,
-- ARGV[4]  refresh token expiry, ARGV[5] absolute session expiry (unix seconds, authd's clock),
-- ARGV[6]  user agent, ARGV[7] client IP (either may be empty)
-- Times are sent by authd, so TTLs are relative and immune to clock skew between authd and Redis.
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4]) - now
redis.call('HSET', KEYS[1], 'rt', ARGV[2], 'rt_exp', ARGV[4], 'created', ARGV[3], 'last_used', ARGV[3],
    'expires', ARGV[5], 'ua', ARGV[6], 'ip', ARGV[7])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
-- Drop sessions that expired since, so the index cannot grow without bound.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
-- The index lives as long as its longest-lived session.
redis.call('EXPIRE', KEYS[2], ttl, 'NX')
redis.call('EXPIRE', KEYS[2], ttl, 'GT')
return 1
