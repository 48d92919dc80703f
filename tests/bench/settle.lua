-- tests/bench/stack_injury.py: POST pre-signed hospital settlements, each line of the file once and in
-- order (timestamp, message id, signature and body, tab-separated); counts the answers that settled.
local hospital, lines, index = "", {}, 0
local threads = {}
settled = 0
other = 0
first_other = 0
first_body = ""
exhausted = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  hospital = args[2]
  for line in io.lines(args[1]) do
    table.insert(lines, line)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Hospital-Id"] = hospital
end

function request()
  index = index + 1
  local line = lines[index]
  if line == nil then  -- every posting sent: no more requests from this thread
    exhausted = 1
    wrk.thread:stop()
    line = lines[#lines]
  end
  local timestamp, message_id, signature, body = string.match(line, "^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  wrk.headers["X-Timestamp"] = timestamp
  wrk.headers["X-Message-Id"] = message_id
  wrk.headers["X-Signature"] = signature
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 and string.find(body or "", '"status":"settled"', 1, true) then
    settled = settled + 1
  else
    other = other + 1
    if first_other == 0 then
      first_other = status
      first_body = string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local s, o, first, first_text, out = 0, 0, 0, "", 0
  for _, t in ipairs(threads) do
    s = s + t:get("settled")
    o = o + t:get("other")
    out = out + t:get("exhausted")
    if first == 0 and t:get("first_other") ~= 0 then
      first = t:get("first_other")
      first_text = t:get("first_body")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"settled":%d,"other":%d,"first_other":%d,"exhausted":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%d}\n',
    summary.requests, summary.duration, s, o, first, out,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  io.write("BENCHBODY " .. string.gsub(first_text, "\n", " ") .. "\n")
end
