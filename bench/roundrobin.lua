-- wrk script: V1 invoke POSTs over many functions in turn (driven by bench/wrk.py, run_round_robin).
--   FNGATE_WRK_TARGETS=<file> wrk -t T -c C -d D -s bench/roundrobin.lua http://host:port/
-- The file has one "<path and query> <bearer token>" line per function. Each thread starts at its own offset;
-- every answer's status is tallied. done() prints "FNGATE_WRK {json}" as bench/invoke.lua does.

dofile(os.getenv("FNGATE_WRK_TALLY"))
threads = {}
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
