-- Grants a role to a user or removes it (`authd roles add` and `remove`), in the user's hash and in
-- every live session of the user, in one step: verify reads a session's roles from the session
-- itself, so a role removed here is refused on the next request, on every instance (the caller then
-- runs the revocation barrier, for the verify caches).
-- KEYS[1]  user hash              authd:user:{NAME}
-- KEYS[2]  the user's sessions    authd:sessions:{NAME}
-- KEYS[3..] the session keys the caller read from the index
-- ARGV[1]  the prefix of the user's session keys, authd:session:{NAME}:
-- ARGV[2]  add or remove, ARGV[3] the role (validated by the caller: no commas),
-- ARGV[4]  the most roles a user may hold
-- Returns {sessions changed, roles (comma-separated, sorted)}; -1 when there is no such user; -2 when
-- the index holds a session whose key is not in KEYS (opened meanwhile): read the index and call
-- again; -3 when the user holds the most roles already. Nothing is done in those three cases.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return -1
end
local given = {}
for i = 3, #KEYS do
    given[KEYS[i]] = true
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if not given[ARGV[1] .. id] then
        return -2
    end
end
local roles = {}
for role in string.gmatch(redis.call('HGET', KEYS[1], 'roles') or '', '[^,]+') do
    if role ~= ARGV[3] then
        roles[#roles + 1] = role
    end
end
if ARGV[2] == 'add' then
    if #roles >= tonumber(ARGV[4]) then
        return -3
    end
    roles[#roles + 1] = ARGV[3]
end
table.sort(roles)
local joined = table.concat(roles, ',')
if joined == '' then
    redis.call('HDEL', KEYS[1], 'roles')
else
    redis.call('HSET', KEYS[1], 'roles', joined)
end
-- Only sessions that still exist: HSET on an expired one would make a key without a TTL.
local changed = 0
for i = 3, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then
        redis.call('HSET', KEYS[i], 'roles', joined)
        changed = changed + 1
    end
end
return {changed, joined}
