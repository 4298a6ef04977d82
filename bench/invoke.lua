-- wrk script for fngate's V1 invoke POST (driven by bench/wrk.py).
--   [FNGATE_WRK_COUNT=1] wrk -t T -c C -d D -s bench/invoke.lua <url with path and query> -- <bearer token>
-- With FNGATE_WRK_COUNT=1 every answer's status is tallied (and whether each 429 carried Retry-After), at some
-- cost in wrk's own CPU; otherwise only wrk's own counters are kept. done() prints "FNGATE_WRK {json}".

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   wrk.method = "POST"
   wrk.body = '{"timestamp":0,"headers":[],"payload":{}}'
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. (args[1] or "")
   statuses = {}
   no_retry_after = 0
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 429 and headers["Retry-After"] == nil then
      no_retry_after = no_retry_after + 1
   end
end

if os.getenv("FNGATE_WRK_COUNT") ~= "1" then
   response = nil -- wrk then skips header and body capture and calls no Lua per answer
end

function done(summary, latency, requests)
   local merged, missing = {}, 0
   for _, thread in ipairs(threads) do
      local counts = thread:get("statuses") or {}
      for status, n in pairs(counts) do
         merged[status] = (merged[status] or 0) + n
      end
      missing = missing + (thread:get("no_retry_after") or 0)
   end
   local parts = {}
   for status, n in pairs(merged) do
      table.insert(parts, string.format('"%d":%d', status, n))
   end
   local e = summary.errors
   io.write(string.format(
      'FNGATE_WRK {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"mean_us":%.1f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"statuses":{%s},"no_retry_after":%d}\n',
      summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout,
      table.concat(parts, ","), missing))
end
