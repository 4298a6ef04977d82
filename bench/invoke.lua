-- wrk script for fngate's V1 invoke POST (driven by bench/wrk.py).
--   [FNGATE_WRK_COUNT=1] wrk -t T -c C -d D -s bench/invoke.lua <url with path and query> -- <bearer token>
-- With FNGATE_WRK_COUNT=1 every answer's status is tallied (and whether each 429 carried Retry-After), at some
-- cost in wrk's own CPU; otherwise only wrk's own counters are kept. done() prints "FNGATE_WRK {json}".

dofile(os.getenv("FNGATE_WRK_TALLY"))
threads = {}

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


if os.getenv("FNGATE_WRK_COUNT") ~= "1" then
   response = nil -- wrk then skips header and body capture and calls no Lua per answer
end
