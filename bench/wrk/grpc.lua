-- grpc.lua - a gRPC unary call over wrk's HTTP/1.1: POST of one
-- length-prefixed message. The body defaults to GetFib(n=10):
-- 00 (not compressed), 00 00 00 02 (length), 08 0a (field 1 = 10).

dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

wrk.method = "POST"
wrk.body = "\0\0\0\0\2\8\10"
wrk.headers["Content-Type"] = "application/grpc"
wrk.headers["TE"] = "trailers"
