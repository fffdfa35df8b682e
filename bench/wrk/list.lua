-- list.lua - GET PATH?n=N for each n of a comma-separated list in turn
-- (each connection starts at its own place in the list), with the shared
-- report. Arguments: PATH LIST.

dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local path, list, i = "/fib", {}, 0

function init(args)
    path = args[1] or path
    for n in string.gmatch(args[2] or "10", "[^,]+") do
        list[#list + 1] = n
    end
    i = math.random(#list) - 1
end

function request()
    i = i % #list + 1
    return wrk.format("GET", path .. "?n=" .. list[i])
end
