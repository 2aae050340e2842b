// The ONNX Runtime side of tools/bench/compare: the ONNX export of the exact-attention
// reference model on ONNX Runtime's CPU execution provider (npm package onnxruntime-node).
//
//   node ort_runner.js --ort DIR --onnx MODEL.onnx --inputs IN.safetensors --threads T
//                      [--mem-pattern on|off]
//
// DIR is where setup.sh installed node_modules/onnxruntime-node. Session options: sequential
// executor, intra-op threads T (the calling thread is one of them), inter-op 1, all graph
// optimizations, CPU memory arena on, memory pattern off unless --mem-pattern on.
// Speaks the runners' protocol (see skein_runner.cpp): after loading it prints
// {"ready": true}, then answers `logits`, `time K` and `quit` with one JSON line each.
// Timed: `await session.run(feeds)` on tensors already in memory, outputs included.
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

function parseArgs(argv) {
  const args = {threads: '2', 'mem-pattern': 'off'};
  for (let i = 2; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) fail(`bad argument '${argv[i]}'`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const key of ['ort', 'onnx', 'inputs']) {
    if (!args[key]) fail(`missing --${key}`);
  }
  if (!['on', 'off'].includes(args['mem-pattern'])) fail(`--mem-pattern must be on or off`);
  return args;
}

function fail(message) {
  process.stderr.write(`ort_runner: ${message}\n`);
  process.exit(2);
}

// name -> {dtype, shape, bytes (an aligned copy)} of every tensor in a safetensors file.
function readSafetensors(file) {
  const raw = fs.readFileSync(file);
  const headerLength = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + headerLength).toString('utf8'));
  const tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = info.data_offsets;
    const bytes = new ArrayBuffer(end - begin);
    new Uint8Array(bytes).set(raw.subarray(8 + headerLength + begin, 8 + headerLength + end));
    tensors[name] = {dtype: info.dtype, shape: info.shape, bytes};
  }
  return tensors;
}

function statusBytes(field) {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(field + ':'));
  return line ? parseInt(line.split(/\s+/)[1], 10) * 1024 : 0;
}

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
  const args = parseArgs(process.argv);
  const ort = require(path.join(path.resolve(args.ort), 'node_modules', 'onnxruntime-node'));
  const threads = parseInt(args.threads, 10);
  const session = await ort.InferenceSession.create(args.onnx, {
    executionProviders: ['cpu'],
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: args['mem-pattern'] === 'on',
  });
  const inputs = readSafetensors(args.inputs);
  if (inputs.ids?.dtype !== 'I64' || inputs.mask?.dtype !== 'F32') fail(`${args.inputs}: expected ids I64, mask F32`);
  const feeds = {
    ids: new ort.Tensor('int64', new BigInt64Array(inputs.ids.bytes), inputs.ids.shape),
    mask: new ort.Tensor('float32', new Float32Array(inputs.mask.bytes), inputs.mask.shape),
  };
  const rssAfterLoad = statusBytes('VmRSS');
  reply({ready: true, onnxruntime: ort.env.versions.common, mem_pattern: args['mem-pattern']});

  async function forward() {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    const out = await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const cpu = process.cpuUsage(cpuStart);
    return [out.logits, ms, (cpu.user + cpu.system) / 1e3];
  }

  const lines = readline.createInterface({input: process.stdin, terminal: false});
  for await (const line of lines) {
    const command = line.trim();
    if (command === 'logits') {
      const [logits, ms] = await forward();
      const [batch, classes] = logits.dims;
      const rows = [];
      for (let b = 0; b < batch; ++b) rows.push(Array.from(logits.data.slice(b * classes, (b + 1) * classes)));
      reply({logits: rows, ms});
    } else if (command.startsWith('time ')) {
      const times = [];
      const cpuTimes = [];
      for (let i = 0; i < parseInt(command.slice(5), 10); ++i) {
        const [, ms, cpuMs] = await forward();
        times.push(ms);
        cpuTimes.push(cpuMs);
      }
      reply({ms: times, cpu_ms: cpuTimes});
    } else if (command === 'quit') {
      reply({vmhwm_bytes: statusBytes('VmHWM'), rss_after_load_bytes: rssAfterLoad});
      await session.release();
      process.exit(0);
    } else {
      fail(`unknown command '${command}'`);
    }
  }
}

main().catch((e) => fail(String(e && e.message ? e.message : e).split('\n')[0]));
