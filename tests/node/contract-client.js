#!/usr/bin/env node
// contract-client.js - a client built by grpc-js from the CURRENT protos
// (proto/), for the methods the original contract lacks: our daemons must
// answer another gRPC implementation too.
//
//   node contract-client.js [--timeout MS] TARGET range FROM TO [--exact]
//   node contract-client.js [--timeout MS] TARGET batch N,N,... [--exact]
//   node contract-client.js [--timeout MS] TARGET getfib N [--exact]
//
// Prints JSON lines on stdout: range, one {"n":..,"x":"..","value":".."} per
// message as it arrives; batch, {"results":[...]}; getfib, one object. int64
// values are decimal strings; absent fields are left out. On a gRPC error
// the last line is {"code":"INVALID_ARGUMENT","message":"..."} and the exit
// status 1; a usage error exits 2.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.join(__dirname, '..', '..', 'proto');
const USAGE = 'usage: contract-client.js [--timeout MS] TARGET ' +
    '(range FROM TO | batch N,N,... | getfib N) [--exact]';

function usage(message) {
    process.stderr.write(`contract-client: ${message}\n${USAGE}\n`);
    process.exit(2);
}

function int32(text, what) {
    if (!/^-?\d+$/.test(text || '')) {
        usage(`${what} must be an integer, got "${text}"`);
    }
    return Number(text);
}

function load() {
    const def = protoLoader.loadSync(['fibonacci/fib.proto'], {
        keepCase: true, longs: String, enums: String, defaults: false,
        includeDirs: [PROTO_DIR],
    });
    return grpc.loadPackageDefinition(def).fibonacci.Fibonacci;
}

function item(r) {
    const out = { n: r.n || 0 };
    if (r.x !== undefined) {
        out.x = r.x;
    }
    if (r.value !== undefined) {
        out.value = r.value;
    }
    return out;
}

function failed(err) {
    const code = grpc.status[err.code] || String(err.code);
    process.stdout.write(JSON.stringify(
        { code, message: err.details || err.message }) + '\n');
    process.exitCode = 1;
}

function main() {
    const argv = process.argv.slice(2);
    let timeoutMs = 10000, exact = false;
    const rest = [];
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === '--timeout') {
            timeoutMs = int32(argv[++i], '--timeout');
        } else if (argv[i] === '--exact') {
            exact = true;
        } else {
            rest.push(argv[i]);
        }
    }
    const [target, command, ...args] = rest;
    if (!target || !command) {
        usage('missing TARGET or COMMAND');
    }
    const Fibonacci = load();
    const client = new Fibonacci(target, grpc.credentials.createInsecure());
    const opts = { deadline: new Date(Date.now() + timeoutMs) };

    if (command === 'range' && args.length === 2) {
        const call = client.GetFibRange({ from: int32(args[0], 'FROM'),
            to: int32(args[1], 'TO'), exact }, opts);
        call.on('data', (r) => {
            process.stdout.write(JSON.stringify(item(r)) + '\n');
        });
        call.on('error', (err) => {
            failed(err);
            client.close();
        });
        call.on('end', () => client.close());
    } else if (command === 'batch' && args.length === 1) {
        const n = args[0] === '' ? [] : args[0].split(',')
            .map((t) => int32(t, 'N'));
        client.GetFibBatch({ n, exact }, opts, (err, reply) => {
            client.close();
            if (err) {
                failed(err);
                return;
            }
            process.stdout.write(JSON.stringify(
                { results: (reply.results || []).map(item) }) + '\n');
        });
    } else if (command === 'getfib' && args.length === 1) {
        client.GetFib({ n: int32(args[0], 'N'), exact }, opts, (err, r) => {
            client.close();
            if (err) {
                failed(err);
                return;
            }
            process.stdout.write(JSON.stringify(item(r)) + '\n');
        });
    } else {
        usage(`bad command or arguments: ${command} ${args.join(' ')}`);
    }
}

main();
