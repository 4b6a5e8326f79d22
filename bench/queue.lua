-- bench/queue.lua: counters at work. Run with as many wrk threads as connections (-tN -cN):
-- each thread is one counter (bench-p1-q<N>) and repeats call-next, complete, and one walk-in
-- at the kiosk so that the queue stays as long as it started (1,000 waiting).
local counter_token = os.getenv("BENCH_COUNTER_TOKEN_PREFIX") or "bench-counter-"
local kiosk_token = os.getenv("BENCH_KIOSK_TOKEN") or "bench-kiosk-token"
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  step = 0
  cycles = 0
  empty = 0
  errors = 0
  counter = "bench-p1-q" .. id
end

function request()
  step = step % 3 + 1
  if step == 1 then
    return wrk.format("POST", "/v1/counters/" .. counter .. "/call-next",
      { ["Authorization"] = "Bearer " .. counter_token .. id })
  elseif step == 2 then
    return wrk.format("POST", "/v1/counters/" .. counter .. "/complete",
      { ["Authorization"] = "Bearer " .. counter_token .. id })
  end
  return wrk.format("POST", "/v1/points/bench-p1/tickets",
    { ["Authorization"] = "Bearer " .. kiosk_token, ["Content-Type"] = "application/json" },
    '{"service":"svc-1"}')
end

function response(status, headers, body)
  if step == 2 and status == 200 then
    cycles = cycles + 1
  elseif step == 1 and status == 204 then
    empty = empty + 1
  elseif status >= 400 and not (step == 2 and status == 409) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local c, e, x = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("cycles")
    e = e + t:get("empty")
    x = x + t:get("errors")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("cycles: %d call-next+complete cycles, %d empty calls, %d errors\n", c, e, x))
  io.write(string.format("cycles/s: %.0f\n", c / secs))
  io.write(string.format("request latency p50: %.2fms p99: %.2fms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
