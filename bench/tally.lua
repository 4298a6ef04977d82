-- What bench/invoke.lua and bench/roundrobin.lua share (each loads it with dofile(FNGATE_WRK_TALLY), set by
-- bench/wrk.py): response() tallies every answer's status and 429s without Retry-After per thread; done() merges
-- the threads' tallies (the scripts keep their threads in the global `threads`) and prints "FNGATE_WRK {json}".

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 429 and headers["Retry-After"] == nil and headers["retry-after"] == nil then
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
