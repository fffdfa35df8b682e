-- get.lua - plain GET of the URL given to wrk, with the shared report.

dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
