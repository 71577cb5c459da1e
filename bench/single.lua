-- wrk script: single-reading POSTs cycling over the fleet, each device with
-- its own key; (device, ts) is unique per request so none is a duplicate.
local devices = {}
tid = 0 -- global: setup() gives each thread its own via thread:set
local counter = 0

-- One time base for all threads (set in setup, which runs once per thread
-- in the main Lua state), so the threads' readings interleave in time.
base_ms = (os.time() - 86400) * 1000

function setup(thread)
  thread:set("tid", tid)
  thread:set("base_ms", base_ms)
  tid = tid + 1
end

function init(args)
  for line in io.lines(os.getenv("FLEET") or "fleet.txt") do
    local id, key = line:match("^(%S+) (%S+)$")
    devices[#devices + 1] = { id = id, key = key }
  end
end

function request()
  counter = counter + 1
  local d = devices[(counter + tid * 7) % #devices + 1]
  local ts = base_ms + counter * 4 + tid
  local body = string.format('{"device_id":"%s","ts":%d.%03d,"co_ppm":%d.5,"temperature_c":21.5}',
    d.id, math.floor(ts / 1000), ts % 1000, counter % 90)
  return wrk.format("POST", "/v1/readings",
    { ["Content-Type"] = "application/json", ["X-Api-Key"] = d.key }, body)
end

function done(summary, latency, requests)
  local codes = 0
  io.write(string.format("p50=%.2fms p99=%.2fms max=%.2fms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
