-- wrk script: 1000-reading batches, one reading from each of 1000 devices,
-- sent with the gateway key (a hub relaying its fleet).
local ids = {}
local key
tid = 0 -- global: setup() gives each thread its own via thread:set
local counter = 0

-- One time base for all threads (set in setup, which runs once per thread
-- in the main Lua state), so the threads' readings interleave in time.
base_ms = (os.time() - 3600) * 1000 -- after single.lua's range (it starts a day ago)

function setup(thread)
  thread:set("tid", tid)
  thread:set("base_ms", base_ms)
  tid = tid + 1
end

function init(args)
  local fleet = os.getenv("FLEET") or "fleet.txt"
  for line in io.lines(fleet) do
    ids[#ids + 1] = line:match("^(%S+) ")
  end
  for line in io.lines(fleet .. ".gateway") do key = line end
end

function request()
  counter = counter + 1
  local ts = base_ms + counter * 4 + tid
  local tss = string.format("%d.%03d", math.floor(ts / 1000), ts % 1000)
  local parts = {}
  for i = 1, #ids do
    parts[i] = '{"device_id":"' .. ids[i] .. '","ts":' .. tss .. ',"co_ppm":' .. (i % 90) .. '.5}'
  end
  return wrk.format("POST", "/v1/readings",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key },
    "[" .. table.concat(parts, ",") .. "]")
end

function done(summary, latency, requests)
  io.write(string.format("p50=%.2fms p99=%.2fms max=%.2fms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
