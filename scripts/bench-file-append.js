#!/usr/bin/env node
// Benchmark (prints numbers, asserts nothing): file append's recover edits the file in place while another process
// keeps appending to it (O_APPEND, a burst of 5 lines every ms, as a busy service's log). Counts the writer's lines
// lost over N inject + recover rounds: the cut at the end cannot be atomic against such a writer, so this shows how
// often a line lands in its window. BENCH_APPEND_ROUNDS (100).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const SEA = path.join(ROOT, 'dist', 'chaosmetad');
const exe = fs.existsSync(SEA) ? SEA : path.join(ROOT, 'bin', 'chaosmetad');
const ROUNDS = Number(process.env.BENCH_APPEND_ROUNDS || 100);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-append-'));
const log = path.join(dir, 'service.log');
fs.writeFileSync(log, 'start\n');
const env = { ...process.env, CHAOSMETAD_DATA_DIR: path.join(dir, 'data') };
const writerSrc =
  `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(log)}, 'a'); let i = 0;` +
  `setInterval(() => { for (let k = 0; k < 5; k++) fs.writeSync(fd, 'svc ' + i++ + '\\n'); }, 1);`;
const writer = spawn(process.execPath, ['-e', writerSrc], { stdio: 'ignore' });
const pause = (s) => spawnSync('sleep', [String(s)]);
let ms = 0;
try {
  pause(0.2);
  for (let n = 0; n < ROUNDS; n++) {
    const uid = `bench-append-${n}`;
    const r = spawnSync(exe, ['inject', 'file', 'append', '-p', log, '-c', 'injected', '--uid', uid], {
      env,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`inject: ${r.stderr}`);
    pause(0.05);
    const t0 = process.hrtime.bigint();
    const rec = spawnSync(exe, ['recover', uid], { env, encoding: 'utf8' });
    ms += Number(process.hrtime.bigint() - t0) / 1e6;
    if (rec.status !== 0) throw new Error(`recover: ${rec.stderr}`);
  }
  pause(0.1);
} finally {
  writer.kill('SIGKILL');
}
const lines = fs.readFileSync(log, 'utf8').split('\n');
const nums = lines.filter((l) => l.startsWith('svc ')).map((l) => Number(l.slice(4)));
let lost = 0;
let events = 0;
for (let i = 1; i < nums.length; i++) {
  if (nums[i] !== nums[i - 1] + 1) {
    lost += nums[i] - nums[i - 1] - 1;
    events++;
  }
}
const ours = lines.filter((l) => l === 'injected').length;
console.log(
  `file append recover beside a writer of 5 lines/ms, ${ROUNDS} rounds (${path.relative(ROOT, exe)}): ` +
    `${nums.length} writer lines kept, ${lost} lost in ${events} of ${ROUNDS} recovers, ${ours} injected lines left; ` +
    `recover ${(ms / ROUNDS).toFixed(0)} ms on average`,
);
fs.rmSync(dir, { recursive: true, force: true });
