-- wrk script for bench/run.sh: the key comes from the environment (never on a command line),
-- optional pacing and request cap, and a machine-readable summary at the end.
--   BENCH_AUTH        value of the Authorization header (unset: none)
--   BENCH_DELAY_MS    wait this long on each connection before its next request (pacing)
--   BENCH_MAX_PER_THREAD  stop each thread after this many responses (fixed request counts)
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
    wrk.headers["Authorization"] = auth
end

local pace = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if pace and pace > 0 then
    function delay()
        return pace
    end
end

local cap = tonumber(os.getenv("BENCH_MAX_PER_THREAD") or "")
if cap and cap > 0 then
    local seen = 0
    function response(status, headers, body)
        seen = seen + 1
        if seen >= cap then
            wrk.thread:stop()
        end
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d "
        .. "mean_us=%.1f max_us=%d err_connect=%d err_read=%d err_write=%d "
        .. "err_status=%d err_timeout=%d\n",
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
