-- The load `npm run bench` sends with wrk (a C load generator, so that the client costs the two
-- cores about what pgbench's own client does): transfers and two-leg swaps among ACTORS actors
-- named bench-0 ... bench-N, about one in ten over max_transfer (rejected). With BATCH > 0 each
-- request is a POST /execute/batch of BATCH proposals. Prints one JSON line of results.
local actors = tonumber(os.getenv("BENCH_LUA_ACTORS") or "1000")
local batch = tonumber(os.getenv("BENCH_LUA_BATCH") or "0")
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + tid * 7919)
  statuses = {}
  applied = 0
end

local function hex(digits)
  return string.format("%0" .. digits .. "x", math.random(0, 16 ^ digits - 1))
end

local function uuid()
  return hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" .. string.format("%x", math.random(8, 11)) .. hex(3) .. "-" .. hex(6) .. hex(6)
end

local function proposal()
  local a = math.random(0, actors - 1)
  local b = math.random(0, actors - 1)
  if b == a then b = (a + 1) % actors end
  local amount = math.random() < 0.1 and 75 or (1 + math.floor(math.random() * 900) / 100)
  if math.random() < 0.6 then
    return string.format('{"proposal_id":"%s","actor_from":"bench-%d","actor_to":"bench-%d","resource":"energy","amount":%s}',
      uuid(), a, b, amount)
  end
  return string.format('{"proposal_id":"%s","legs":[{"actor_from":"bench-%d","actor_to":"bench-%d","resource":"energy","amount":%s},'
    .. '{"actor_from":"bench-%d","actor_to":"bench-%d","resource":"water","amount":%s}]}',
    uuid(), a, b, amount, b, a, math.floor(amount * 50) / 100)
end

local headers = { ["content-type"] = "application/json" }

function request()
  if batch > 0 then
    local items = {}
    for i = 1, batch do items[i] = proposal() end
    return wrk.format("POST", "/execute/batch", headers, '{"proposals":[' .. table.concat(items, ",") .. "]}")
  end
  return wrk.format("POST", "/execute", headers, proposal())
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if batch > 0 then
    if status == 200 then applied = applied + select(2, body:gsub('"status":"applied"', "")) end
  elseif status == 200 then
    applied = applied + 1
  end
end

function done(summary, latency, requests)
  local total, counts = 0, {}
  for _, thread in ipairs(threads) do
    total = total + thread:get("applied")
    for status, n in pairs(thread:get("statuses")) do counts[tostring(status)] = (counts[tostring(status)] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(counts) do table.insert(parts, string.format('"%s":%d', status, n)) end
  io.write(string.format('{"requests":%d,"seconds":%.3f,"applied":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration / 1e6, total, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, table.concat(parts, ",")))
end
