-- Scenario "client_credentials": POST /token grant_type=client_credentials with HTTP Basic, from
-- every connection (a static request: wrk's fastest path, as verify.lua).
--   wrk -t2 -c64 -d10s -s client_credentials.lua http://HOST:PORT -- <file: CLIENT_ID:SECRET>
-- non2xx = wrk's count of statuses over 399. Prints the shared driver's WRKJSON line.
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
local C = dofile(here .. "/../bench/wrk/common.lua")

function setup(thread) C.setup(thread) end

local function base64(text)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((text:gsub(".", function(c)
    local bits, byte = "", c:byte()
    for i = 8, 1, -1 do bits = bits .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(bits)
    if #bits < 6 then return "" end
    local value = 0
    for i = 1, 6 do value = value + (bits:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return alphabet:sub(value + 1, value + 1)
  end) .. ({ "", "==", "=" })[#text % 3 + 1])
end

function init(args)
  local credentials = C.read_lines(assert(args[1], "client_credentials.lua needs a CLIENT_ID:SECRET file"))[1]
  wrk.method = "POST"
  wrk.path = "/token"
  wrk.body = "grant_type=client_credentials"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. base64(credentials)
end

function done(summary, latency, requests) C.done(summary, latency, requests) end
