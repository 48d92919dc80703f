-- tests/bench/loadgen.py fills in the body: POST with a new valid credit code each time; counts 201s
local alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
local weights = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
local body_format = [[@@BODY@@]]
local threads = {}
local thread_count = 0
local counter = 0
local prefix = "000"
ok = 0
other = 0
first_other = 0
first_body = ""

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local function sym(v) return string.sub(alphabet, v + 1, v + 1) end

local function base31(n, width)
  local s = ""
  for _ = 1, width do
    s = sym(n % 31) .. s
    n = math.floor(n / 31)
  end
  return s
end

local function credit_code()
  counter = counter + 1
  local body = "91360102" .. prefix .. base31(counter, 6)
  local total = 0
  for i = 1, 17 do
    total = total + (string.find(alphabet, string.sub(body, i, i), 1, true) - 1) * weights[i]
  end
  return body .. sym((31 - total % 31) % 31)
end

function init(args)
  prefix = base31(tonumber(args[1]) or 0, 2) .. sym(thread_index or 0)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  return wrk.format(nil, nil, nil, string.format(body_format, credit_code()))
end

function response(status, headers, body)
  if status == 201 then
    ok = ok + 1
  else
    other = other + 1
    if first_other == 0 then
      first_other = status
      first_body = string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local okc, otherc, first, first_text = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    okc = okc + t:get("ok")
    otherc = otherc + t:get("other")
    if first == 0 and t:get("first_other") ~= 0 then
      first = t:get("first_other")
      first_text = t:get("first_body")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"ok":%d,"other":%d,"first_other":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%d}\n',
    summary.requests, summary.duration, okc, otherc, first,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  io.write("BENCHBODY " .. string.gsub(first_text, "\n", " ") .. "\n")
end
