// lib/original.js - loads the ORIGINAL Go system's protos (tests/node/original)
// and exposes their service definitions plus the Fibonacci arithmetic the
// mocks share. int64 values travel as decimal strings (longs: String), so no
// precision is lost above 2^53.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.join(__dirname, '..', 'original');

const LOADER_OPTIONS = {
    keepCase: true,     // field names as in the .proto (total_requests)
    longs: String,      // int64 -> decimal string, exact
    enums: String,
    defaults: false,    // absent stays absent: shows what was on the wire
    oneofs: true,
    includeDirs: [PROTO_DIR],
};

function load() {
    const def = protoLoader.loadSync(
        ['fibonacci/fib.proto', 'stats/stats.proto'], LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(def);
    return {
        Fibonacci: pkg.fibonacci.Fibonacci,
        Stats: pkg.stats.Stats,
    };
}

// Largest n whose Fibonacci number fits a signed 64-bit integer.
const MAX_N = 92;

// F(n) as a BigInt, exact for any n >= 0.
function fib(n) {
    let a = 0n, b = 1n;
    for (let i = 0; i < n; i++) {
        [a, b] = [b, a + b];
    }
    return a;
}

module.exports = { grpc, load, fib, MAX_N, PROTO_DIR };
