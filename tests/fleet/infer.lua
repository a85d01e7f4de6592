-- wrk script of the fleet tests: POSTs one inference request (the binary
-- tensor extension) and checks every response.
-- Environment: BODY (request body file), HL (its JSON header's length),
-- EXPECT (the expected response body, byte for byte), PER_THREAD (each
-- thread stops after that many responses and creates DONE_DIR/thread-<n>;
-- wrk itself runs until its -d or a SIGINT, then calls done()).
local f = io.open(os.getenv("BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Inference-Header-Content-Length"] = os.getenv("HL")

local threads = {}
local count = 0
function setup(thread)
  count = count + 1
  thread:set("tid", count)
  table.insert(threads, thread)
end

function init(args)
  local e = io.open(os.getenv("EXPECT"), "rb")
  expect = e:read("*a")
  e:close()
  limit = tonumber(os.getenv("PER_THREAD"))
  done_dir = os.getenv("DONE_DIR")
  n = 0
  bad = 0
  first_bad = ""
end

function response(status, headers, body)
  n = n + 1
  if status ~= 200 or body ~= expect then
    bad = bad + 1
    if first_bad == "" then first_bad = tostring(status) .. " " .. string.sub(body, 1, 200) end
  end
  if n == limit then
    wrk.thread:stop()
    io.open(done_dir .. "/thread-" .. tostring(tid), "w"):close()
  end
end

function done(summary, latency, requests)
  local responses, nbad, fb = 0, 0, ""
  for _, t in ipairs(threads) do
    responses = responses + t:get("n")
    nbad = nbad + t:get("bad")
    if fb == "" then fb = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "responses": %d, "bad": %d, "connect": %d, "read": %d, ' ..
                         '"write": %d, "status": %d, "timeout": %d, "duration_us": %d, "p50_us": %d, ' ..
                         '"p99_us": %d, "max_us": %d, "first_bad": "%s"}\n',
                         summary.requests, responses, nbad, e.connect, e.read, e.write, e.status, e.timeout,
                         summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
                         string.gsub(fb, '[^%w%s%p]', '?'):gsub('["\\]', '?')))
end
