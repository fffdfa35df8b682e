#!/usr/bin/env node
// mock.js - mock gRPC backends built from the ORIGINAL Go system's protos.
//
// One process, four servers on free ports of 127.0.0.1, each serving both
// fibonacci.Fibonacci and stats.Stats with its own in-memory stats:
//   original  behaves like the Go system (GetFib up to n=92, RecordNo,
//             GetStats with whole-millisecond averages). It knows nothing of
//             RecordBatch, so grpc-js answers that with UNIMPLEMENTED.
//   flaky     GetFib and GetStats fail with UNAVAILABLE on the first 2
//             attempts of each distinct x-request-id (calls without one:
//             the first 2 such calls overall), then behave as original.
//   slow      as original, every answer delayed 200 ms (timer, never blocks);
//             GetFib with n >= 1000 is delayed n ms instead, for tests that
//             need a call surely in flight for a long time.
//   errors    GetFib by n: 1 INTERNAL, 2 UNAVAILABLE, 3 DEADLINE_EXCEEDED,
//             4 a reply that does not parse as FibonacciResponse,
//             5 RESOURCE_EXHAUSTED, 6 OUT_OF_RANGE, 7 INTERNAL and 8
//             UNAVAILABLE whose message echoes the metadata the call came
//             with ("echo traceparent=... tracestate=... x-request-id=...",
//             "-" for what was missing), else as original;
//             GetStats always INTERNAL.
//   ranges    fibonacci.Fibonacci/GetFibRange of the CURRENT proto (proto/),
//             failing by `to`: 1001 UNAVAILABLE after every 3 messages on
//             the first 2 attempts of each x-request-id, 1002 INTERNAL
//             after 3 messages, 1003 UNAVAILABLE after 3 messages on the
//             first attempt of each x-request-id and before any later,
//             1004 UNAVAILABLE before any message on the first attempt of
//             each x-request-id, 1005 3 messages and then nothing (until
//             cancelled), 1006 skips an n after 3 messages; else the range.
//             A cancelled range is logged to stderr.
// After binding it prints one JSON line on stdout:
//   {"original":P1,"flaky":P2,"slow":P3,"errors":P4,"ranges":P5}
// and runs until SIGTERM/SIGINT (or until its parent process goes away).
// MOCK_VERBOSE=1 logs one line per call to stderr.
'use strict';

const path = require('path');
const protoLoader = require('@grpc/proto-loader');
const { grpc, load, fib, MAX_N } = require('./lib/original');

const VERBOSE = process.env.MOCK_VERBOSE === '1';
const SLOW_DELAY_MS = 200;
const FLAKY_FAILURES = 2;
const FLAKY_MAX_IDS = 100000;   // bound the memory of seen request ids

// Bytes that are not a FibonacciResponse: field 1 (varint) whose varint is
// cut off after a byte with the continuation bit set.
const GARBAGE_REPLY = Buffer.from([0x08, 0xff]);

const { Fibonacci, Stats } = load();

function status(code, details) {
    return { code, details };
}

function log(mode, method, call, request, err) {
    if (!VERBOSE) {
        return;
    }
    const rid = call.metadata.get('x-request-id')[0];
    const outcome = err ? grpc.status[err.code] + ' ' + err.details : 'OK';
    process.stderr.write(`mock ${mode} ${method}` +
        (request && request.n !== undefined ? ` n=${request.n}` : '') +
        (rid !== undefined ? ` request_id=${rid}` : '') +
        ` -> ${outcome}\n`);
}

// The Go system's behaviour: the shared core of every mode.
function originalCore() {
    const perN = new Map();     // n -> { count, totalNs (BigInt) }

    function getFib(request) {
        const n = request.n || 0;
        if (n < 0) {
            return [status(grpc.status.INVALID_ARGUMENT,
                'n must be non-negative')];
        }
        if (n > MAX_N) {
            return [status(grpc.status.INVALID_ARGUMENT,
                'n too large (max 92)')];
        }
        // proto3 leaves a zero x off the wire, as the Go server did.
        return [null, n === 0 ? {} : { x: fib(n).toString() }];
    }

    function recordNo(request) {
        const n = request.n || 0;
        const ns = BigInt(request.duration || '0');
        const entry = perN.get(n) || { count: 0, totalNs: 0n };
        entry.count += 1;
        entry.totalNs += ns;
        perN.set(n, entry);
        return [null, { success: true }];
    }

    function getStats() {
        let total = 0;
        const stats = [];
        for (const n of [...perN.keys()].sort((a, b) => a - b)) {
            const e = perN.get(n);
            total += e.count;
            // The original averaged in whole milliseconds (truncated).
            const avgMs = Number(e.totalNs / BigInt(e.count) / 1000000n);
            stats.push({ n, request_count: e.count, average_time_ms: avgMs });
        }
        return [null, { total_requests: total, fibonacci_stats: stats }];
    }

    return { GetFib: getFib, RecordNo: recordNo, GetStats: getStats };
}

// flaky: a gate in front of GetFib and GetStats.
function flakyGate() {
    const attempts = new Map();     // x-request-id -> attempts seen
    let anonymous = 0;              // attempts without an x-request-id

    return function gate(method, call) {
        if (method !== 'GetFib' && method !== 'GetStats') {
            return null;
        }
        const rid = call.metadata.get('x-request-id')[0];
        let seen;
        if (rid === undefined) {
            seen = ++anonymous;
        } else {
            if (!attempts.has(rid) && attempts.size >= FLAKY_MAX_IDS) {
                attempts.clear();
            }
            seen = (attempts.get(rid) || 0) + 1;
            attempts.set(rid, seen);
        }
        if (seen <= FLAKY_FAILURES) {
            return status(grpc.status.UNAVAILABLE, 'mock: transient failure');
        }
        return null;
    };
}

// The trace and request metadata a call came with, as one line.
function echo(call) {
    const get = (key) => call.metadata.get(key).join(',') || '-';
    return `echo traceparent=${get('traceparent')} ` +
        `tracestate=${get('tracestate')} x-request-id=${get('x-request-id')}`;
}

// errors: fixed failures chosen by n; GetStats always fails.
function errorsGate(method, call, request) {
    if (method === 'GetStats') {
        return status(grpc.status.INTERNAL, 'mock internal error');
    }
    if (method !== 'GetFib') {
        return null;
    }
    switch (request.n || 0) {
    case 1: return status(grpc.status.INTERNAL, 'mock internal error');
    case 2: return status(grpc.status.UNAVAILABLE, 'mock: unavailable');
    case 3: return status(grpc.status.DEADLINE_EXCEEDED,
        'mock: deadline exceeded');
    case 4: return GARBAGE_REPLY;
    case 5: return status(grpc.status.RESOURCE_EXHAUSTED,
        'mock: resource exhausted');
    case 6: return status(grpc.status.OUT_OF_RANGE, 'n out of range');
    case 7: return status(grpc.status.INTERNAL, echo(call));
    case 8: return status(grpc.status.UNAVAILABLE, echo(call));
    default: return null;
    }
}

// A copy of a service definition whose replies may also be raw bytes: a
// Buffer handed to the callback is sent as is, unparsed and unchecked.
function withRawReplies(service) {
    const copy = {};
    for (const [name, method] of Object.entries(service)) {
        const serialize = method.responseSerialize;
        copy[name] = Object.assign({}, method, {
            responseSerialize: (value) =>
                Buffer.isBuffer(value) ? value : serialize(value),
        });
    }
    return copy;
}

function makeServer(mode) {
    const core = originalCore();
    const gate = mode === 'flaky' ? flakyGate()
        : mode === 'errors' ? errorsGate : () => null;
    const delayFor = (method, request) => mode !== 'slow' ? 0
        : method === 'GetFib' && request.n >= 1000 ? request.n
        : SLOW_DELAY_MS;

    function handler(method) {
        return (call, callback) => {
            const request = call.request;
            const gated = gate(method, call, request);
            let err = null, reply = null;
            if (Buffer.isBuffer(gated)) {
                reply = gated;
            } else if (gated) {
                err = gated;
            } else {
                [err, reply] = core[method](request);
            }
            const answer = () => {
                log(mode, method, call, request, err);
                callback(err, reply);
            };
            const delay = delayFor(method, request);
            if (delay > 0) {
                setTimeout(answer, delay);
            } else {
                answer();
            }
        };
    }

    const server = new grpc.Server();
    server.addService(withRawReplies(Fibonacci.service),
        { GetFib: handler('GetFib') });
    server.addService(withRawReplies(Stats.service),
        { RecordNo: handler('RecordNo'), GetStats: handler('GetStats') });
    return server;
}

// ranges: GetFibRange of the current proto, with failures chosen by `to`.
function makeRangesServer() {
    const def = protoLoader.loadSync(['fibonacci/fib.proto'], {
        keepCase: true, longs: String, enums: String, defaults: false,
        includeDirs: [path.join(__dirname, '..', '..', 'proto')],
    });
    const Fibonacci = grpc.loadPackageDefinition(def).fibonacci.Fibonacci;
    const attempts = new Map();     // x-request-id -> attempts seen

    function getFibRange(call) {
        const from = call.request.from || 0;
        const to = call.request.to || 0;
        const rid = call.metadata.get('x-request-id')[0] || '';
        const seen = (attempts.get(rid) || 0) + 1;
        if (attempts.size >= FLAKY_MAX_IDS) {
            attempts.clear();
        }
        attempts.set(rid, seen);

        let failAfter = Infinity, code = grpc.status.OK, stall = false;
        if (to === 1001 && seen <= FLAKY_FAILURES) {
            failAfter = 3;
            code = grpc.status.UNAVAILABLE;
        } else if (to === 1003) {
            failAfter = seen === 1 ? 3 : 0;
            code = grpc.status.UNAVAILABLE;
        } else if (to === 1002) {
            failAfter = 3;
            code = grpc.status.INTERNAL;
        } else if (to === 1004 && seen === 1) {
            failAfter = 0;
            code = grpc.status.UNAVAILABLE;
        } else if (to === 1005) {
            failAfter = 3;
            stall = true;
        }

        let sent = 0, cancelled = false, done = false;
        call.on('cancelled', () => {
            cancelled = true;
            if (done) {
                return;
            }
            process.stderr.write(`mock ranges GetFibRange from=${from} ` +
                `to=${to} cancelled after ${sent} messages\n`);
        });

        let a = fib(from), b = fib(from + 1);
        const step = () => {
            for (let n = from + sent; !cancelled; n++) {
                if (sent === failAfter) {
                    if (!stall) {
                        done = true;
                        call.emit('error', { code, details:
                            `mock: failure after ${sent} messages` });
                    }
                    return;
                }
                if (n > to) {
                    done = true;
                    call.end();
                    return;
                }
                const skip = to === 1006 && sent === 3 ? 1 : 0;
                const m = { n: n + skip, value: (skip ? a + b : a).toString() };
                if (n + skip <= MAX_N) {
                    m.x = m.value;
                }
                [a, b] = [b, a + b];
                sent++;
                if (!call.write(m)) {
                    call.once('drain', step);
                    return;
                }
            }
        };
        step();
    }

    const server = new grpc.Server();
    server.addService(Fibonacci.service, { GetFibRange: getFibRange });
    return server;
}

function bind(server) {
    return new Promise((resolve, reject) => {
        server.bindAsync('127.0.0.1:0',
            grpc.ServerCredentials.createInsecure(),
            (err, port) => (err ? reject(err) : resolve(port)));
    });
}

async function main() {
    const modes = ['original', 'flaky', 'slow', 'errors', 'ranges'];
    const servers = [];
    const ports = {};
    const stop = (code) => {
        for (const s of servers) {
            s.forceShutdown();
        }
        process.exit(code);
    };
    process.on('SIGTERM', () => stop(0));
    process.on('SIGINT', () => stop(0));

    // Never outlive whoever started us: exit once re-parented.
    const parent = process.ppid;
    setInterval(() => {
        if (process.ppid !== parent) {
            stop(0);
        }
    }, 1000).unref();

    try {
        for (const mode of modes) {
            const server = mode === 'ranges' ? makeRangesServer()
                : makeServer(mode);
            servers.push(server);
            ports[mode] = await bind(server);
        }
    } catch (err) {
        process.stderr.write(`mock: cannot bind: ${err.message}\n`);
        stop(1);
    }
    process.stdout.write(JSON.stringify(ports) + '\n');
}

main();
