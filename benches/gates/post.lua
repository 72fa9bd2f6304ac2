-- wrk request mix for the POST comparison of benches/gates.sh (deterministic).
--   wrk ... -s post.lua <url> -- <N> [L]
-- The ids of ../shared/bench/mix.lua (L requests, default 1000: 90% filed ids com.bench.app{i},
-- i < N, spread over the whole range; every 10th an unfiled id com.bench.app{N+k}), each sent as
-- `POST /v1/apps` with a small JSON body naming the app, as an app store's metadata call would.
-- Every contender gets exactly the same list; each wrk thread cycles through it from its own
-- offset. Prints the same machine-readable RESULT line as mix.lua.

local reqs = {}
local n_req = 0
local pos = 0
local thread_no = 0

function setup(thread)
   thread:set("tno", thread_no)
   thread_no = thread_no + 1
end

function init(args)
   local N = tonumber(args[1]) or 1000000
   local L = tonumber(args[2]) or 1000
   local headers = { ["Content-Type"] = "application/json" }
   for k = 0, L - 1 do
      local id
      if k % 10 == 9 then
         id = N + k
      else
         id = (k * 7919 + 13) % N
      end
      local body = string.format(
         '{"package":"com.bench.app%d","version_name":"3.%d.%d","version_code":%d,' ..
         '"platform":"android","channel":"store-%d","locale":"zh-CN","sdk_int":34}',
         id, k % 7, k % 13, 30000 + k, k % 5)
      reqs[#reqs + 1] = wrk.format("POST", "/v1/apps", headers, body)
   end
   n_req = #reqs
   local tno = tonumber(wrk.thread:get("tno")) or 0
   pos = (tno * 499) % n_req
end

function request()
   pos = pos + 1
   if pos > n_req then pos = 1 end
   return reqs[pos]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx3xx=%d sockerr=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect + e.read + e.write + e.timeout))
end
