-- wrk script: V1 invoke POSTs over many functions in turn (driven by bench/wrk.py, run_round_robin).
--   FNGATE_WRK_TARGETS=<file> wrk -t T -c C -d D -s bench/roundrobin.lua http://host:port/
-- The file has one "<path and query> <bearer token>" line per function. Each thread starts at its own offset;
-- every answer's status is tallied. done() prints "FNGATE_WRK {json}" as bench/invoke.lua does.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("offset", #threads)
   table.insert(threads, thread)
end

function init(args)
   targets = {}
   for line in io.lines(os.getenv("FNGATE_WRK_TARGETS")) do
      local path, token = line:match("^(%S+)%s+(%S+)$")
      if path then
         table.insert(targets, {path, token})
      end
   end
   statuses = {}
   no_retry_after = 0
   counter = math.floor(offset * #targets / 8)
end

local body = '{"timestamp":0,"headers":[],"payload":{}}'

function request()
   counter = counter + 1
   local target = targets[(counter % #targets) + 1]
   return wrk.format("POST", target[1], {["Content-Type"] = "application/json",
                                         ["Authorization"] = "Bearer " .. target[2]}, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 429 and headers["Retry-After"] == nil then
      no_retry_after = no_retry_after + 1
   end
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
