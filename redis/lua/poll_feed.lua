-- Polls the revocation feed for one receiver (RFC 8936): acknowledges, then reads what it has not
-- acknowledged, in one step. Each receiver is a consumer group of the feed stream, made at its first
-- poll at the stream's start: a new receiver gets every notice the feed still holds.
-- KEYS[1]  the feed stream        authd:feed
-- ARGV[1]  the receiver (a client id, the group's name), ARGV[2] most items to return (0 to 1000),
-- ARGV[3..] ids to acknowledge (stream entry ids, checked by the caller)
-- Returns {MORE, ID, FIELDS, ID, FIELDS...}: first the items delivered before and not acknowledged,
-- then new ones, in id order; MORE is 1 when the limit stopped the read. An item trimmed from the
-- stream while unacknowledged is acknowledged here and not returned.
local group = ARGV[1]
local limit = tonumber(ARGV[2])
redis.pcall('XGROUP', 'CREATE', KEYS[1], group, '0', 'MKSTREAM')
if #ARGV > 2 then
    redis.call('XACK', KEYS[1], group, unpack(ARGV, 3))
end
local out = {0}
local count = 0
if limit == 0 then
    return out
end
local function take(start, wanted)
    local reply = redis.call('XREADGROUP', 'GROUP', group, 'r', 'COUNT', wanted, 'STREAMS', KEYS[1], start)
    if not reply or not reply[1] then
        return 0
    end
    local read = 0
    for _, entry in ipairs(reply[1][2]) do
        read = read + 1
        if entry[2] then
            out[#out + 1] = entry[1]
            out[#out + 1] = entry[2]
            count = count + 1
        else
            redis.call('XACK', KEYS[1], group, entry[1])
        end
    end
    return read
end
local pending = take('0', limit)
if count < limit then
    local read = take('>', limit - count)
    if read == limit - count then
        out[1] = 1
    end
elseif pending == limit then
    out[1] = 1
end
return out
