-- Replaces a password hash made with older parameters by one made with the current ones (same
-- password), only if the stored hash is still the one that was verified: a password changed
-- meanwhile is never overwritten with a hash of the old password.
-- KEYS[1]  user hash              authd:user:{NAME}
-- ARGV[1]  the hash that was verified, ARGV[2] its replacement
-- Returns 1 when replaced, 0 when the hash had changed.
if redis.call('HGET', KEYS[1], 'password') ~= ARGV[1] then
    return 0
end
redis.call('HSET', KEYS[1], 'password', ARGV[2])
return 1
