-- Ends every session of a user, or every one but one (logout scope "others"), when the caller
-- proves a live session: a stale token must never be a switch that logs a user out everywhere.
-- KEYS[1]  the user's sessions    authd:sessions:{NAME}
-- KEYS[2..] the session keys the caller read from the index, and the key of the session that
--          vouches for the caller (with a proof): every key the script touches is in KEYS, so that
--          Redis Cluster routes and migrates them with the call
-- ARGV[1]  the prefix of the user's session keys, authd:session:{NAME}:
-- ARGV[2]  the session id to keep, or '' to end them all
-- ARGV[3]  the proof: 'none' (operators, who need none), 'refresh' or 'access'
-- ARGV[4]  with a proof, the presented token's id; ARGV[5] now; ARGV[6] the grace window (seconds);
-- ARGV[7]  the id of the session that vouches for the caller
--   refresh: the token must be the session's current refresh token, or its predecessor within the
--            grace window (two tabs at once), as rotate_session.lua allows;
--   access:  the session must live and this access token must not be revoked on its own.
-- The session keys share the index's hash tag, so its Cluster slot.
-- Returns how many sessions were ended; -1 when the proof fails; -2 when the index holds a session
-- whose key is not in KEYS (opened meanwhile): read the index and call again. Nothing is done in
-- either case.
local given = {}
for i = 2, #KEYS do
    given[KEYS[i]] = true
end
if ARGV[3] ~= 'none' and not given[ARGV[1] .. ARGV[7]] then
    return redis.error_reply('ERR the proving session key must be in KEYS')
end
if ARGV[3] == 'refresh' then
    local s = redis.call('HMGET', ARGV[1] .. ARGV[7], 'rt', 'prev', 'rotated_at')
    local current = s[1] == ARGV[4]
    local window = tonumber(ARGV[6])
    local grace = s[2] == ARGV[4] and window > 0 and tonumber(ARGV[5]) - tonumber(s[3] or '0') <= window
    if not s[1] or not (current or grace) then
        return -1
    end
elseif ARGV[3] == 'access' then
    local proof = ARGV[1] .. ARGV[7]
    if redis.call('EXISTS', proof) == 0 or redis.call('HEXISTS', proof, 'deny:' .. ARGV[4]) == 1 then
        return -1
    end
end
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do
    if not given[ARGV[1] .. id] then
        return -2
    end
end
local ended = 0
for _, id in ipairs(ids) do
    if id ~= ARGV[2] then
        ended = ended + redis.call('DEL', ARGV[1] .. id)
        redis.call('ZREM', KEYS[1], id)
    end
end
return ended
