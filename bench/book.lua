-- bench/book.lua: wrk script, POST /v1/bookings as fast as the daemon takes them.
--
--   BENCH_TOKEN=bench-app-token BENCH_BASE_DATE=2026-11-23 \
--     wrk -t2 -c64 -d10s --latency -s bench/book.lua http://127.0.0.1:PORT
--
-- Every request books a DISTINCT citizen (12 digits: two digits for the wrk
-- thread, ten for a per-thread counter), so "duplicate_booking" and
-- "too_many_bookings" never happen, and requests are spread over every point,
-- service, day of the horizon and slot of the day so that slots never fill
-- (bench/run generates a configuration with slot_capacity 2000).
--
-- Environment (all optional; the defaults match the configuration bench/run writes):
--   BENCH_TOKEN       app token                       (bench-app-token)
--   BENCH_BASE_DATE   the test clock's date, a Monday  (2030-01-07)
--   BENCH_POINTS      number of points  bench-p1..N    (6)
--   BENCH_SERVICES    services per point svc-1..N      (4)
--   BENCH_DAYS        days of the horizon from the base date (7)
--   BENCH_OPEN, BENCH_CLOSE  opening hours, whole hours (7, 19); 30-minute slots
--   BENCH_ID_BASE     first two digits of the citizen ids, for thread 0 (10): another
--                     run against the same daemon takes another base
--
-- response() counts every answer that is not 201; done() prints the totals, so
-- the "durable bookings/s" line reports only successful, committed bookings.

local token    = os.getenv("BENCH_TOKEN") or "bench-app-token"
local base     = os.getenv("BENCH_BASE_DATE") or "2030-01-07"
local npoints  = tonumber(os.getenv("BENCH_POINTS") or "6")
local nsvc     = tonumber(os.getenv("BENCH_SERVICES") or "4")
local ndays    = tonumber(os.getenv("BENCH_DAYS") or "7")
local open_h   = tonumber(os.getenv("BENCH_OPEN") or "7")
local close_h  = tonumber(os.getenv("BENCH_CLOSE") or "19")
local id_base  = tonumber(os.getenv("BENCH_ID_BASE") or "10")

local function day_list()
   local y, m, d = base:match("^(%d%d%d%d)-(%d%d)-(%d%d)$")
   assert(y, "BENCH_BASE_DATE must be YYYY-MM-DD")
   -- noon local time: adding whole days never crosses a date boundary wrongly
   local t0 = os.time({ year = tonumber(y), month = tonumber(m), day = tonumber(d), hour = 12 })
   local out = {}
   for i = 0, ndays - 1 do out[#out + 1] = os.date("%Y-%m-%d", t0 + i * 86400) end
   return out
end

local points, services, dates, starts = {}, {}, day_list(), {}
for p = 1, npoints do points[#points + 1] = "bench-p" .. p end
for s = 1, nsvc do services[#services + 1] = "svc-" .. s end
for h = open_h, close_h - 1 do
   starts[#starts + 1] = string.format("%02d:00", h)
   starts[#starts + 1] = string.format("%02d:30", h)
end
local ncombo = #points * #services * #dates * #starts

local headers = {
   ["Authorization"] = "Bearer " .. token,
   ["Content-Type"]  = "application/json",
}

-- main state: one entry per wrk thread -------------------------------------
local threads = {}
local nthreads = 0

function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
   threads[#threads + 1] = thread
end

-- thread state ---------------------------------------------------------------
counter = 0      -- requests built by this thread
ok      = 0      -- 201 answers
errors  = 0      -- any other answer
codes   = {}     -- status -> count, for the non-201 answers

function init(args)
   tid = tid or 0
   assert(id_base + tid < 100, "too many wrk threads for the citizen id scheme")
end

function request()
   local n = counter
   counter = counter + 1
   -- a stride coprime with ncombo walks every combination before repeating
   local k = (n * 1009 + tid * 2017) % ncombo
   local si = k % #starts;   k = (k - si) / #starts
   local di = k % #dates;    k = (k - di) / #dates
   local vi = k % #services; k = (k - vi) / #services
   local pi = k % #points
   local body = string.format(
      '{"point":"%s","service":"%s","date":"%s","start":"%s","citizen_id":"%02d%010d"}',
      points[pi + 1], services[vi + 1], dates[di + 1], starts[si + 1], id_base + tid, n)
   return wrk.format("POST", "/v1/bookings", headers, body)
end

function response(status, hdrs, body)
   if status == 201 then
      ok = ok + 1
   else
      errors = errors + 1
      codes[status] = (codes[status] or 0) + 1
      if errors <= 3 then
         io.stderr:write(string.format("book.lua: HTTP %d %s\n", status, body or ""))
      end
   end
end

-- main state, after the run --------------------------------------------------
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
   io.write(string.format("bookings: %d answered, %d created (201), %d refused (non-201)\n",
                          summary.requests, total_ok, total_err))
   local parts = {}
   for code, c in pairs(by_code) do parts[#parts + 1] = string.format("%s x%d", code, c) end
   table.sort(parts)
   if #parts > 0 then io.write("non-201 statuses: " .. table.concat(parts, ", ") .. "\n") end
   io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n",
                          e.connect, e.read, e.write, e.timeout))
   io.write(string.format("durable bookings/s: %.0f\n", total_ok / secs))
end
