-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/bench.py.
--
-- Env BENCH_TOKENS=FILE (one token a line): every request carries the next
-- token of the file; thread i of n takes lines i, i+n, i+2n, ... so no two
-- requests share a token. With BENCH_ONCE=1 a thread stops when its share is
-- used up (the cold mode: no token is ever sent twice, so no cache can hit).
-- Without BENCH_TOKENS the request is static (wrk's fast path; -H sets the
-- header). Either way done() prints one JSON line that bench.py reads.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
   ffi.C.clock_gettime(1, ts)   -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local token_file = os.getenv("BENCH_TOKENS")
local threads = {}
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
   table.insert(threads, thread)
end

if token_file and token_file ~= "" then
   local tokens, n, idx, once, path

   function init(args)
      path = args[1] or "/"
      once = os.getenv("BENCH_ONCE") == "1"
      tokens, n = {}, 0
      local i = 0
      for line in io.lines(token_file) do
         if i % nthreads == (tid - 1) then
            n = n + 1
            tokens[n] = line
         end
         i = i + 1
      end
      idx = 0
   end

   function request()
      idx = idx + 1
      if idx == 1 and not first_us then
         first_us = now_us()
      end
      if idx > n then
         if once then
            if not last_us then
               last_us = now_us()
               wrk.thread:stop()
            end
         end
         idx = 1
      end
      return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[idx] })
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   -- cold mode: the run lasted from the first request to the last thread's
   -- stop, not the whole -d (wrk's summary.duration)
   local first, last, stopped = nil, nil, 0
   for _, t in ipairs(threads) do
      local f, l = t:get("first_us"), t:get("last_us")
      if f and (not first or f < first) then first = f end
      if l then
         stopped = stopped + 1
         if not last or l > last then last = l end
      end
   end
   local duration = summary.duration
   if stopped == #threads and first and last and last > first then
      duration = last - first
   end
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"err_connect": %d, "err_read": %d, "err_write": %d, "err_status": %d, "err_timeout": %d, ' ..
      '"lat_p50_us": %d, "lat_p99_us": %d, "lat_mean_us": %.1f, "lat_max_us": %d, "threads_stopped": %d}\n',
      summary.requests, duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.mean, latency.max, stopped))
end
