-- Scenario "dpop": GET /me with a DPoP-bound access token (Authorization: DPoP) and a fresh proof
-- on every request, each proof used once (RFC 9449 forbids a second use: authd answers 401).
--   wrk -t2 -c64 -d5s -s dpop.lua http://HOST:PORT -- <token file> <proofs file, one a line> <threads>
-- Thread i takes lines i, i+threads, ...; when its share runs out it starts again, and those
-- replays are 401s in the non-2xx count (size the file so that it stays 0).
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
local C = dofile(here .. "/../bench/wrk/common.lua")

function setup(thread) C.setup(thread) end

local token, proofs, index

function init(args)
  token = C.read_lines(assert(args[1], "dpop.lua needs a token file"))[1]
  local threads = tonumber(args[3]) or 1
  proofs = {}
  local line = 0
  local path = assert(args[2], "dpop.lua needs a proofs file")
  for proof in io.lines(path) do
    if line % threads == thread_id then proofs[#proofs + 1] = proof end
    line = line + 1
  end
  index = 0
end

function request()
  index = index % #proofs + 1
  return wrk.format("GET", "/me", { ["Authorization"] = "DPoP " .. token, ["DPoP"] = proofs[index] })
end

function done(summary, latency, requests) C.done(summary, latency, requests) end
