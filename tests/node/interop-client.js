#!/usr/bin/env node
// interop-client.js - a client built from the ORIGINAL Go system's protos,
// to prove that our services still answer old clients correctly.
//
//   node interop-client.js [--timeout MS] [--request-id ID] TARGET getfib N
//   node interop-client.js [options] TARGET stats
//   node interop-client.js [options] TARGET record N DURATION_NS
//
// Options: --timeout MS, --request-id ID, and for TLS --tls-ca FILE (verify
// the server with it), --tls-cert FILE --tls-key FILE (client certificate),
// --tls-name NAME (the name the server's certificate must carry).
//
// Prints one JSON line on stdout and exits 0 on success:
//   getfib -> {"x":"55"}    (int64 as a decimal string; {} when x is absent,
//                            as proto3 sends zero)
//   stats  -> {"total_requests":T,"fibonacci_stats":[{"n":..,
//              "request_count":..,"average_time_ms":..},...]}
//   record -> {"success":true}
// On a gRPC error prints {"code":"INVALID_ARGUMENT","message":"..."} and
// exits 1; on a usage error prints a message on stderr and exits 2.
'use strict';

const { grpc, load } = require('./lib/original');

const fs = require('fs');

const USAGE = 'usage: interop-client.js [--timeout MS] [--request-id ID] ' +
    '[--tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-name NAME]] ' +
    'TARGET (getfib N | stats | record N DURATION_NS)';
const TLS_OPTIONS = {
    '--tls-ca': 'tlsCa', '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey',
    '--tls-name': 'tlsName',
};
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function usage(message) {
    process.stderr.write(`interop-client: ${message}\n${USAGE}\n`);
    process.exit(2);
}

function int32Arg(text, what) {
    if (!/^-?\d+$/.test(text || '')) {
        usage(`${what} must be an integer, got "${text}"`);
    }
    const v = Number(text);
    if (v < INT32_MIN || v > INT32_MAX) {
        usage(`${what} must fit int32, got ${text}`);
    }
    return v;
}

function int64Arg(text, what) {
    if (!/^-?\d+$/.test(text || '')) {
        usage(`${what} must be an integer, got "${text}"`);
    }
    const v = BigInt(text);
    if (v < -(2n ** 63n) || v >= 2n ** 63n) {
        usage(`${what} must fit int64, got ${text}`);
    }
    return v.toString();
}

function parseArgs(argv) {
    const opts = { timeoutMs: 5000, requestId: undefined };
    const rest = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--timeout') {
            opts.timeoutMs = int32Arg(argv[++i], '--timeout');
            if (opts.timeoutMs <= 0) {
                usage('--timeout must be positive');
            }
        } else if (a === '--request-id') {
            opts.requestId = argv[++i];
            if (opts.requestId === undefined) {
                usage('--request-id needs a value');
            }
        } else if (TLS_OPTIONS[a]) {
            opts[TLS_OPTIONS[a]] = argv[++i];
            if (opts[TLS_OPTIONS[a]] === undefined) {
                usage(`${a} needs a value`);
            }
        } else if (a.startsWith('--')) {
            usage(`unknown option ${a}`);
        } else {
            rest.push(a);
        }
    }
    const [target, command, ...args] = rest;
    if (!target || !command) {
        usage('missing TARGET or COMMAND');
    }
    const want = { getfib: 1, stats: 0, record: 2 }[command];
    if (want === undefined) {
        usage(`unknown command ${command}`);
    }
    if (args.length !== want) {
        usage(`${command} takes ${want} argument(s)`);
    }
    return { opts, target, command, args };
}

// The stats as an original client sees them, zero values filled in.
function statsJson(r) {
    return {
        total_requests: r.total_requests || 0,
        fibonacci_stats: (r.fibonacci_stats || []).map((s) => ({
            n: s.n || 0,
            request_count: s.request_count || 0,
            average_time_ms: s.average_time_ms || 0,
        })),
    };
}

function main() {
    const { opts, target, command, args } = parseArgs(process.argv.slice(2));
    const { Fibonacci, Stats } = load();
    const read = (f) => (f === undefined ? null : fs.readFileSync(f));
    const creds = opts.tlsCa === undefined
        ? grpc.credentials.createInsecure()
        : grpc.credentials.createSsl(read(opts.tlsCa), read(opts.tlsKey),
                                     read(opts.tlsCert));
    const chanOpts = opts.tlsName === undefined ? {}
        : { 'grpc.ssl_target_name_override': opts.tlsName };
    const metadata = new grpc.Metadata();
    if (opts.requestId !== undefined) {
        metadata.set('x-request-id', opts.requestId);
    }
    const callOpts = { deadline: new Date(Date.now() + opts.timeoutMs) };

    let client, call;
    if (command === 'getfib') {
        const n = int32Arg(args[0], 'N');
        client = new Fibonacci(target, creds, chanOpts);
        call = (cb) => client.GetFib({ n }, metadata, callOpts, cb);
    } else if (command === 'stats') {
        client = new Stats(target, creds, chanOpts);
        call = (cb) => client.GetStats({}, metadata, callOpts, cb);
    } else {
        const n = int32Arg(args[0], 'N');
        const duration = int64Arg(args[1], 'DURATION_NS');
        client = new Stats(target, creds, chanOpts);
        call = (cb) => client.RecordNo({ n, duration }, metadata, callOpts, cb);
    }

    call((err, reply) => {
        client.close();
        if (err) {
            const code = grpc.status[err.code] || String(err.code);
            process.stdout.write(JSON.stringify(
                { code, message: err.details || err.message }) + '\n');
            process.exitCode = 1;
            return;
        }
        let out;
        if (command === 'getfib') {
            out = reply.x !== undefined ? { x: reply.x } : {};
        } else if (command === 'stats') {
            out = statsJson(reply);
        } else {
            out = { success: reply.success === true };
        }
        process.stdout.write(JSON.stringify(out) + '\n');
    });
}

main();
