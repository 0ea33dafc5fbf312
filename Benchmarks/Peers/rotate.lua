-- Refresh-token rotation for both peers: KEYS[1] the session hash, ARGV the presented token id,
-- the next one, and the session's TTL. 1: rotated; 0: no live session; -1: reuse (session ended).
local current = redis.call('HGET', KEYS[1], 'refresh')
if redis.call('HGET', KEYS[1], 'state') ~= 'active' then return 0 end
if current ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'reused')
  return -1
end
redis.call('HSET', KEYS[1], 'refresh', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
