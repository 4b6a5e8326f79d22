-- bench/availability.lua: wrk script, GET /v1/points/{p}/availability?service=S
-- rotating over every point and service (the whole horizon each time).
--
--   wrk -t2 -c64 -d10s --latency -s bench/availability.lua http://127.0.0.1:PORT
--
-- Environment (optional, defaults match bench/run's configuration):
--   BENCH_POINTS    number of points  bench-p1..N   (6)
--   BENCH_SERVICES  services per point svc-1..N     (4)
-- response() counts every answer that is not 200; done() prints the totals.

local npoints = tonumber(os.getenv("BENCH_POINTS") or "6")
local nsvc    = tonumber(os.getenv("BENCH_SERVICES") or "4")

local paths = {}
for p = 1, npoints do
   for s = 1, nsvc do
      paths[#paths + 1] = string.format("/v1/points/bench-p%d/availability?service=svc-%d", p, s)
   end
end

local threads = {}
local nthreads = 0

function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
   threads[#threads + 1] = thread
end

counter = 0
ok      = 0
errors  = 0
codes   = {}

function init(args)
   tid = tid or 0
   counter = tid * 7  -- threads start at different places in the rotation
end

function request()
   local path = paths[(counter % #paths) + 1]
   counter = counter + 1
   return wrk.format("GET", path)
end

function response(status, hdrs, body)
   if status == 200 then
      ok = ok + 1
   else
      errors = errors + 1
      codes[status] = (codes[status] or 0) + 1
      if errors <= 3 then
         io.stderr:write(string.format("availability.lua: HTTP %d %s\n", status, body or ""))
      end
   end
end

function done(summary, latency, requests)
   local total_ok, total_err, by_code = 0, 0, {}
   for _, t in ipairs(threads) do
      total_ok  = total_ok + (t:get("ok") or 0)
      total_err = total_err + (t:get("errors") or 0)
      for code, c in pairs(t:get("codes") or {}) do
         by_code[code] = (by_code[code] or 0) + c
      end
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format("availability: %d answered, %d ok (200), %d refused (non-200)\n",
                          summary.requests, total_ok, total_err))
   local parts = {}
   for code, c in pairs(by_code) do parts[#parts + 1] = string.format("%s x%d", code, c) end
   table.sort(parts)
   if #parts > 0 then io.write("non-200 statuses: " .. table.concat(parts, ", ") .. "\n") end
   io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n",
                          e.connect, e.read, e.write, e.timeout))
   io.write(string.format("successful GET/s: %.0f\n", total_ok / secs))
end
