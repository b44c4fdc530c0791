-- SPDX-License-Identifier: Apache-2.0
-- wrk script for tests/soak/soak.py: a bounded, mixed request stream.
--
-- Env:  SOAK_MODE   api | gw
--       SOAK_DIR    directory with the token files soak.py wrote (one token a line):
--                   valid.txt, norole.txt, expired.txt, unknown_kid.txt, alg_confusion.txt
--       SOAK_QUOTA  responses per wrk thread; the thread stops when it has them
--       SOAK_MARK   path prefix: a thread that has its quota creates SOAK_MARK<tid>
--                   (wrk itself runs until -d; soak.py sends it SIGINT once every
--                   thread has marked, and wrk then runs done())
--
-- api: every request picks the next kind from a fixed cycle (so the mix is exact),
--      counts what it sent per kind and classifies every answer by status and by the
--      RFC 6750 error in WWW-Authenticate. soak.py compares the two.
-- gw:  every request goes through the gateway; half carry a forged Authorization
--      header of their own, which mod_b2c_client must replace. Expected: 200 only.
-- done() prints one JSON line: {"sent": {...}, "recv": {...}, "errors": {...}}.

local mode = os.getenv("SOAK_MODE") or "api"
local dir = os.getenv("SOAK_DIR") or "."
local quota = tonumber(os.getenv("SOAK_QUOTA") or "1000")
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
   table.insert(threads, thread)
end

local function load(name)
   local t = {}
   for line in io.lines(dir .. "/" .. name) do
      if line ~= "" then t[#t + 1] = line end
   end
   return t
end

-- kind -> the class its answer must fall in (status + WWW-Authenticate error)
local expect = {
   valid = "200", gateway = "200", gateway_forged = "200",
   norole = "403:insufficient_scope",
   bad_sig = "401:invalid_token", unknown_kid = "401:invalid_token",
   expired = "401:invalid_token", alg_confusion = "401:invalid_token",
   garbage = "401:invalid_token",
   malformed = "400:invalid_request",
   no_token = "401:-",
}

-- 20 slots: 8 valid, 2 norole, 3 bad_sig, 2 unknown_kid, 1 expired, 1 alg_confusion,
-- 1 garbage, 1 malformed, 1 no_token
local cycle = {"valid", "bad_sig", "valid", "no_token", "valid", "unknown_kid", "norole",
               "valid", "bad_sig", "expired", "valid", "garbage", "valid", "alg_confusion",
               "norole", "valid", "bad_sig", "malformed", "valid", "unknown_kid"}
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

local toks = {}
local idx = {}
sent, recv = {}, {}   -- globals: done() reads them through thread:get
local nsent, nrecv, slot = 0, 0, 0

local function next_tok(kind)
   local list = toks[kind]
   local i = (idx[kind] or 0) % #list + 1
   idx[kind] = i
   return list[i]
end

local function random_sig(n)
   local out = {}
   for i = 1, n do
      local c = math.random(1, 64)
      out[i] = b64chars:sub(c, c)
   end
   return table.concat(out)
end

function init(args)
   math.randomseed(tid * 7919 + os.time())
   toks.valid = load("valid.txt")
   if mode == "api" then
      for _, k in ipairs({"norole", "expired", "unknown_kid", "alg_confusion"}) do
         toks[k] = load(k .. ".txt")
      end
   end
end

local function inc(t, k)
   t[k] = (t[k] or 0) + 1
end

function request()
   nsent = nsent + 1
   local kind, hdrs, path
   if mode == "gw" then
      path = "/gw/r"
      if nsent % 2 == 0 then
         kind, hdrs = "gateway", {}
      else
         -- a caller's own (forged) token: replaced by the gateway's
         kind = "gateway_forged"
         hdrs = {["Authorization"] = "Bearer " .. next_tok("valid"):gsub("%.[^.]*$", "." .. random_sig(342))}
      end
   else
      path = "/api/r"
      slot = slot % #cycle + 1
      kind = cycle[slot]
      if kind == "valid" or kind == "norole" or kind == "expired" or kind == "unknown_kid"
         or kind == "alg_confusion" then
         hdrs = {["Authorization"] = "Bearer " .. next_tok(kind)}
      elseif kind == "bad_sig" then
         -- a real header and payload, a random signature: a new token every time
         local t = next_tok("valid")
         hdrs = {["Authorization"] = "Bearer " .. t:gsub("%.[^.]*$", "." .. random_sig(342))}
      elseif kind == "garbage" then
         hdrs = {["Authorization"] = "Bearer " .. random_sig(math.random(1, 200))}
      elseif kind == "malformed" then
         hdrs = {["Authorization"] = "Bearer a b"}
      else
         hdrs = {}
      end
   end
   inc(sent, expect[kind])
   return wrk.format("GET", path, hdrs)
end

function response(status, headers, body)
   local class = tostring(status)
   if status ~= 200 then
      local wa = headers["WWW-Authenticate"] or headers["www-authenticate"]
      local err = wa and wa:match('error="([^"]*)"') or "-"
      class = class .. ":" .. err
   end
   inc(recv, class)
   nrecv = nrecv + 1
   if nrecv == quota then
      local mark = os.getenv("SOAK_MARK")
      if mark then
         local f = io.open(mark .. tid, "w")
         if f then f:close() end
      end
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local function merge(acc, t)
      for k, v in pairs(t or {}) do acc[k] = (acc[k] or 0) + v end
   end
   local S, R = {}, {}
   for _, t in ipairs(threads) do
      merge(S, t:get("sent"))
      merge(R, t:get("recv"))
   end
   local function json(t)
      local parts = {}
      for k, v in pairs(t) do parts[#parts + 1] = string.format('"%s": %d', k, v) end
      return "{" .. table.concat(parts, ", ") .. "}"
   end
   local e = summary.errors
   io.write(string.format('SOAKJSON {"sent": %s, "recv": %s, "requests": %d, "duration_us": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"lat_p99_us": %d, "lat_max_us": %d}\n',
      json(S), json(R), summary.requests, summary.duration, e.connect, e.read, e.write,
      e.timeout, latency:percentile(99), latency.max))
end
