-- Removes a user's second factor (the user's, with a valid code; or an operator's reset).
-- KEYS[1]  the user's factor      authd:factor:{NAME}
-- KEYS[2]  user hash              authd:user:{NAME}
-- Returns 1 when a factor (active or waiting for its first code) was removed, 0 when there was none.
local active = redis.call('HDEL', KEYS[2], 'factor')
return math.max(active, redis.call('DEL', KEYS[1]))
