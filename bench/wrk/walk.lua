-- walk.lua - GET PATH?n=N with a new N for every request, so that every
-- request is the first one for its n (a cold cache). Arguments after "--":
-- PATH START. Thread i of T asks START+i, START+i+T, START+i+2T, ...
-- bench/run moves START past the values used by earlier runs.

dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

function init(args)
    path = args[1] or "/fib"
    next_n = tonumber(args[2] or "100000") + id
    step = tonumber(args[3] or "1")
end

function request()
    local n = next_n
    next_n = next_n + step
    return wrk.format("GET", path .. "?n=" .. n)
end
