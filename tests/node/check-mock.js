#!/usr/bin/env node
// check-mock.js - proves that mock.js behaves as specified, mode by mode,
// over real sockets with clients built from the original protos. Starts its
// own mock.js, prints TAP, exits non-zero on any failure. `npm test` runs it.
// The ranges mode is checked with a client built from the current protos.
'use strict';

const assert = require('assert');
const path = require('path');
const { spawn } = require('child_process');
const readline = require('readline');
const protoLoader = require('@grpc/proto-loader');
const { grpc, load, fib } = require('./lib/original');

const { Fibonacci, Stats } = load();
const creds = grpc.credentials.createInsecure();
const START_TIMEOUT_MS = 10000;
const CALL_TIMEOUT_MS = 5000;

function startMock() {
    const child = spawn(process.execPath, [path.join(__dirname, 'mock.js')],
        { stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error('mock.js printed no ports in time'));
        }, START_TIMEOUT_MS);
        child.on('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`mock.js exited early with ${code}`));
        });
        readline.createInterface({ input: child.stdout }).once('line', (l) => {
            clearTimeout(timer);
            resolve({ child, ports: JSON.parse(l) });
        });
    });
}

function clients(port) {
    const target = `127.0.0.1:${port}`;
    return { fib: new Fibonacci(target, creds), stats: new Stats(target, creds),
        raw: new grpc.Client(target, creds) };
}

// One unary call -> { err, reply, ms }.
function unary(client, method, request, requestId) {
    const md = new grpc.Metadata();
    if (requestId !== undefined) {
        md.set('x-request-id', requestId);
    }
    const started = Date.now();
    return new Promise((resolve) => {
        client[method](request, md,
            { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) },
            (err, reply) => resolve({ err, reply, ms: Date.now() - started }));
    });
}

// A call with raw bytes both ways: shows exactly what is on the wire.
function rawCall(client, methodPath, bytes) {
    return new Promise((resolve) => {
        client.makeUnaryRequest(methodPath, (b) => b, (b) => b, bytes,
            new grpc.Metadata(),
            { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) },
            (err, reply) => resolve({ err, reply }));
    });
}

function expectCode(res, code, message) {
    assert.ok(res.err, `expected ${grpc.status[code]}, got a reply ` +
        JSON.stringify(res.reply));
    assert.strictEqual(grpc.status[res.err.code], grpc.status[code]);
    if (message !== undefined) {
        assert.strictEqual(res.err.details, message);
    }
}

function expectOk(res) {
    assert.ok(!res.err, res.err && `unexpected error ${res.err.message}`);
    return res.reply;
}

const S = grpc.status;
const checks = [];
function check(name, fn) {
    checks.push({ name, fn });
}

check('original: GetFib is exact up to n=92', async (c) => {
    for (const n of [1, 2, 10, 50, 78, 79, 91, 92]) {
        const r = expectOk(await unary(c.original.fib, 'GetFib', { n }));
        assert.strictEqual(r.x, fib(n).toString(), `F(${n})`);
    }
    const r = expectOk(await unary(c.original.fib, 'GetFib', { n: 92 }));
    assert.strictEqual(r.x, '7540113804746346429');
});

check('original: GetFib n=0 leaves x off the wire', async (c) => {
    const zero = await rawCall(c.original.raw, '/fibonacci.Fibonacci/GetFib',
        Buffer.alloc(0));
    assert.ok(!zero.err);
    assert.strictEqual(zero.reply.length, 0);
    const ten = await rawCall(c.original.raw, '/fibonacci.Fibonacci/GetFib',
        Buffer.from([0x08, 10]));
    assert.deepStrictEqual([...ten.reply], [0x08, 55]);
});

check('original: GetFib refuses n<0 and n>92 like the Go system',
    async (c) => {
        expectCode(await unary(c.original.fib, 'GetFib', { n: -1 }),
            S.INVALID_ARGUMENT, 'n must be non-negative');
        expectCode(await unary(c.original.fib, 'GetFib', { n: 93 }),
            S.INVALID_ARGUMENT, 'n too large (max 92)');
        expectCode(await unary(c.original.fib, 'GetFib', { n: 1000 }),
            S.INVALID_ARGUMENT, 'n too large (max 92)');
    });

check('original: RecordNo + GetStats, averages in whole ms', async (c) => {
    const rec = (n, duration) => unary(c.original.stats, 'RecordNo',
        { n, duration });
    assert.strictEqual(expectOk(await rec(10, '2500000')).success, true);
    assert.strictEqual(expectOk(await rec(10, '1600000')).success, true);
    assert.strictEqual(expectOk(await rec(3, '999999')).success, true);
    assert.strictEqual(expectOk(await rec(92, '9000000000000')).success, true);
    const r = expectOk(await unary(c.original.stats, 'GetStats', {}));
    assert.strictEqual(r.total_requests, 4);
    assert.deepStrictEqual(r.fibonacci_stats.map((s) =>
        [s.n || 0, s.request_count, s.average_time_ms || 0]),
    [[3, 1, 0], [10, 2, 2], [92, 1, 9000000]]);
});

check('original: RecordBatch is UNIMPLEMENTED', async (c) => {
    expectCode(await rawCall(c.original.raw, '/stats.Stats/RecordBatch',
        Buffer.alloc(0)), S.UNIMPLEMENTED);
});

check('flaky: first 2 attempts per x-request-id fail', async (c) => {
    for (const [client, method, req] of [
        [c.flaky.fib, 'GetFib', { n: 10 }],
        [c.flaky.stats, 'GetStats', {}],
    ]) {
        const id = `check-${method}`;
        expectCode(await unary(client, method, req, id), S.UNAVAILABLE,
            'mock: transient failure');
        expectCode(await unary(client, method, req, id), S.UNAVAILABLE,
            'mock: transient failure');
        expectOk(await unary(client, method, req, id));
        expectOk(await unary(client, method, req, id));
    }
});

check('flaky: a fresh id fails again; no id: first 2 calls overall',
    async (c) => {
        expectCode(await unary(c.flaky.fib, 'GetFib', { n: 5 }, 'fresh'),
            S.UNAVAILABLE);
        expectCode(await unary(c.flaky.fib, 'GetFib', { n: 5 }),
            S.UNAVAILABLE);
        expectCode(await unary(c.flaky.stats, 'GetStats', {}),
            S.UNAVAILABLE);
        const r = expectOk(await unary(c.flaky.fib, 'GetFib', { n: 92 }));
        assert.strictEqual(r.x, '7540113804746346429');
        expectOk(await unary(c.flaky.stats, 'GetStats', {}));
        assert.strictEqual(expectOk(await unary(c.flaky.stats, 'RecordNo',
            { n: 1, duration: '5' }, 'rec')).success, true);
    });

check('slow: every answer takes >= 200 ms, errors too', async (c) => {
    const ok = await unary(c.slow.fib, 'GetFib', { n: 10 });
    assert.strictEqual(expectOk(ok).x, '55');
    assert.ok(ok.ms >= 195, `answered in ${ok.ms} ms`);
    const bad = await unary(c.slow.fib, 'GetFib', { n: 93 });
    expectCode(bad, S.INVALID_ARGUMENT);
    assert.ok(bad.ms >= 195, `error answered in ${bad.ms} ms`);
});

check('slow: GetFib with n >= 1000 takes n ms', async (c) => {
    const r = await unary(c.slow.fib, 'GetFib', { n: 1200 });
    expectCode(r, S.INVALID_ARGUMENT);
    assert.ok(r.ms >= 1195, `answered in ${r.ms} ms`);
});

check('slow: 500 concurrent calls all answer in well under 500*200 ms',
    async (c) => {
        const started = Date.now();
        const all = await Promise.all(Array.from({ length: 500 },
            (_, i) => unary(c.slow.fib, 'GetFib', { n: i % 93 })));
        const elapsed = Date.now() - started;
        all.forEach((r, i) => assert.strictEqual(expectOk(r).x,
            i % 93 === 0 ? undefined : fib(i % 93).toString()));
        // one at a time they would take 100 s; 20 s leaves room for a
        // loaded machine and still fails a mock that serializes calls
        assert.ok(elapsed < 20000, `500 calls took ${elapsed} ms`);
    });

check('errors: GetFib fails by n, else as original', async (c) => {
    const get = (n) => unary(c.errors.fib, 'GetFib', { n });
    expectCode(await get(1), S.INTERNAL, 'mock internal error');
    for (let i = 0; i < 3; i++) {
        expectCode(await get(2), S.UNAVAILABLE);
        expectCode(await get(3), S.DEADLINE_EXCEEDED);
    }
    const garbage = await get(4);
    expectCode(garbage, S.INTERNAL);
    assert.match(garbage.err.details, /pars/i);
    expectCode(await get(5), S.RESOURCE_EXHAUSTED);
    expectCode(await get(6), S.OUT_OF_RANGE, 'n out of range');
    assert.strictEqual(expectOk(await get(9)).x, '34');
    assert.strictEqual(expectOk(await get(92)).x, '7540113804746346429');
    expectCode(await get(93), S.INVALID_ARGUMENT);
});

check('errors: n=7 and n=8 echo the metadata they came with', async (c) => {
    const md = new grpc.Metadata();
    md.set('traceparent',
        '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    md.set('tracestate', 'k=v');
    const call = (n, m) => new Promise((resolve) => {
        c.errors.fib.GetFib({ n }, m,
            { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) },
            (err, reply) => resolve({ err, reply }));
    });
    expectCode(await call(7, md), S.INTERNAL,
        'echo traceparent=00-0af7651916cd43dd8448eb211c80319c-' +
        'b7ad6b7169203331-01 tracestate=k=v x-request-id=-');
    expectCode(await call(8, new grpc.Metadata()), S.UNAVAILABLE,
        'echo traceparent=- tracestate=- x-request-id=-');
});

check('errors: the n=4 reply is bytes that do not parse', async (c) => {
    const r = await rawCall(c.errors.raw, '/fibonacci.Fibonacci/GetFib',
        Buffer.from([0x08, 4]));
    assert.ok(!r.err);
    assert.deepStrictEqual([...r.reply], [0x08, 0xff]);
});

check('errors: GetStats INTERNAL, RecordNo works', async (c) => {
    expectCode(await unary(c.errors.stats, 'GetStats', {}), S.INTERNAL,
        'mock internal error');
    assert.strictEqual(expectOk(await unary(c.errors.stats, 'RecordNo',
        { n: 1, duration: '1' })).success, true);
});

// The whole of one GetFibRange -> { items, err }.
function range(client, from, to, requestId, deadlineMs) {
    const md = new grpc.Metadata();
    md.set('x-request-id', requestId);
    const call = client.GetFibRange({ from, to }, md,
        { deadline: new Date(Date.now() + (deadlineMs || CALL_TIMEOUT_MS)) });
    const items = [];
    return new Promise((resolve) => {
        call.on('data', (m) => items.push([m.n || 0, m.value]));
        call.on('error', (err) => resolve({ items, err }));
        call.on('end', () => resolve({ items, err: null }));
    });
}

function expected(from, to) {
    const out = [];
    for (let n = from; n <= to; n++) {
        out.push([n, fib(n).toString()]);
    }
    return out;
}

check('ranges: GetFibRange, and its failures chosen by to', async (c) => {
    const f = c.ranges;
    let r = await range(f, 5, 100, 'a');
    assert.ok(!r.err);
    assert.deepStrictEqual(r.items, expected(5, 100));

    // 1001: after 3 messages on the first two attempts of an id
    for (const from of [990, 993]) {
        r = await range(f, from, 1001, 'b');
        assert.strictEqual(r.err && r.err.code, S.UNAVAILABLE);
        assert.deepStrictEqual(r.items, expected(from, from + 2));
    }
    r = await range(f, 996, 1001, 'b');
    assert.ok(!r.err);
    assert.deepStrictEqual(r.items, expected(996, 1001));

    r = await range(f, 10, 1002, 'c');
    assert.strictEqual(r.err && r.err.code, S.INTERNAL);
    assert.strictEqual(r.items.length, 3);

    r = await range(f, 0, 1003, 'd');
    assert.strictEqual(r.err && r.err.code, S.UNAVAILABLE);
    assert.strictEqual(r.items.length, 3);
    r = await range(f, 3, 1003, 'd');
    assert.strictEqual(r.err && r.err.code, S.UNAVAILABLE);
    assert.strictEqual(r.items.length, 0);

    r = await range(f, 1000, 1004, 'e');
    assert.strictEqual(r.err && r.err.code, S.UNAVAILABLE);
    assert.strictEqual(r.items.length, 0);
    r = await range(f, 1000, 1004, 'e');
    assert.deepStrictEqual(r.items, expected(1000, 1004));

    // 1005: 3 messages, then nothing until the deadline
    r = await range(f, 0, 1005, 'f', 500);
    assert.strictEqual(r.err && r.err.code, S.DEADLINE_EXCEEDED);
    assert.deepStrictEqual(r.items, expected(0, 2));

    r = await range(f, 0, 1006, 'g');
    assert.deepStrictEqual(r.items.slice(0, 4).map((i) => i[0]),
        [0, 1, 2, 4]);
});

check('servers keep separate stats', async (c) => {
    const r = expectOk(await unary(c.slow.stats, 'GetStats', {}));
    assert.strictEqual(r.total_requests || 0, 0);
});

async function main() {
    const { child, ports } = await startMock();
    const c = {};
    for (const mode of ['original', 'flaky', 'slow', 'errors']) {
        assert.ok(Number.isInteger(ports[mode]) && ports[mode] > 0,
            `port for ${mode}`);
        c[mode] = clients(ports[mode]);
    }
    const def = protoLoader.loadSync(['fibonacci/fib.proto'], {
        keepCase: true, longs: String, enums: String, defaults: false,
        includeDirs: [path.join(__dirname, '..', '..', 'proto')],
    });
    const Current = grpc.loadPackageDefinition(def).fibonacci.Fibonacci;
    assert.ok(Number.isInteger(ports.ranges) && ports.ranges > 0,
        'port for ranges');
    c.ranges = new Current(`127.0.0.1:${ports.ranges}`, creds);
    console.log(`1..${checks.length + 1}`);
    let failed = 0;
    for (const [i, { name, fn }] of checks.entries()) {
        try {
            await fn(c);
            console.log(`ok ${i + 1} - ${name}`);
        } catch (err) {
            failed++;
            console.log(`not ok ${i + 1} - ${name}`);
            console.log(`# ${String(err.stack || err).replace(/\n/g, '\n# ')}`);
        }
    }
    c.ranges.close();
    delete c.ranges;
    for (const mode of Object.keys(c)) {
        for (const cl of Object.values(c[mode])) {
            cl.close();
        }
    }
    // SIGTERM stops it promptly and cleanly.
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.once('exit',
        (code, signal) => resolve({ code, signal })));
    const started = Date.now();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    const { code, signal } = await exited;
    clearTimeout(timer);
    const n = checks.length + 1;
    if (code === 0 && Date.now() - started < 3000) {
        console.log(`ok ${n} - SIGTERM stops the mock (exit 0)`);
    } else {
        failed++;
        console.log(`not ok ${n} - SIGTERM: code ${code} signal ${signal}`);
    }
    process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
    console.log(`Bail out! ${err.message}`);
    process.exitCode = 1;
});
