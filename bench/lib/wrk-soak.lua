-- wrk script for bench/soak.sh: one kind of request per wrk process, answers counted by
-- status and problem code, 5xx also by second (to match them with the fault timeline).
--   SOAK_KIND      list | item | post | patch | bad
--   SOAK_AUTH      Authorization value; for "bad": two values separated by "|", alternated
--   SOAK_BODY      JSON body of post/patch
--   SOAK_DELAY_MS  pause per connection after each answer (pacing)
local kind = os.getenv("SOAK_KIND") or "list"
local body = os.getenv("SOAK_BODY")
local pace = tonumber(os.getenv("SOAK_DELAY_MS") or "")
local auths = {}
for a in string.gmatch(os.getenv("SOAK_AUTH") or "", "[^|]+") do
    table.insert(auths, a)
end

local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

local n = 0
local reqs = {}
function init(args)
    local method = "GET"
    if kind == "post" then method = "POST" elseif kind == "patch" then method = "PATCH" end
    for i, a in ipairs(auths) do
        local h = { ["Authorization"] = a }
        if body then h["Content-Type"] = "application/json" end
        reqs[i] = wrk.format(method, nil, h, body)
    end
    stats = {}
    fivexx = {}
end

function request()
    n = n + 1
    return reqs[(n % #reqs) + 1]
end

if pace and pace > 0 then
    function delay()
        return pace
    end
end

function response(status, headers, rbody)
    local code = "-"
    if status >= 400 then
        code = string.match(rbody or "", '"code"%s*:%s*"([%w_]+)"') or "none"
    end
    local k = status .. " " .. code
    stats[k] = (stats[k] or 0) + 1
    if status >= 500 then
        local s = os.time() .. " " .. k
        fivexx[s] = (fivexx[s] or 0) + 1
    end
end

function done(summary, latency, requests)
    local all, all5 = {}, {}
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("stats") or {}) do all[k] = (all[k] or 0) + v end
        for k, v in pairs(t:get("fivexx") or {}) do all5[k] = (all5[k] or 0) + v end
    end
    for k, v in pairs(all) do io.write(string.format("S %s %s %d\n", kind, k, v)) end
    for k, v in pairs(all5) do io.write(string.format("F %s %s %d\n", kind, k, v)) end
    local e = summary.errors
    io.write(string.format("SUM %s requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%.0f "
        .. "err_connect=%d err_read=%d err_write=%d err_timeout=%d\n", kind, summary.requests,
        summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
        e.connect, e.read, e.write, e.timeout))
end
