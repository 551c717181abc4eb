#!/usr/bin/env node
// Benchmark (prints numbers, asserts nothing): inject jvm methoddelay -> the first delayed call, for a method called
// every 10 ms by a real JVM (a probe program, OpenJDK 17): the first attach (the agent loaded into the JVM) and
// the following ones (the agent reused). Needs OpenJDK 17 and the agent (npm run build); run as root.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const SEA = path.join(ROOT, 'dist', 'chaosmetad');
const JAVA = '/usr/lib/jvm/java-17-openjdk-amd64/bin/java';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-jvm-'));
const env = { ...process.env, CHAOSMETAD_DATA_DIR: path.join(tmp, 'data') };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  if (!fs.existsSync(JAVA) || !fs.existsSync(SEA)) {
    console.log('jvm benchmark skipped: needs OpenJDK 17 and dist/chaosmetad (npm run build)');
    return;
  }
  const classes = path.join(tmp, 'classes');
  // a probe JVM: work() every 10 ms; each call that took 50 ms or more is printed with the time it began
  const src = path.join(tmp, 'Probe.java');
  fs.writeFileSync(
    src,
    `public class Probe {
  public static void work() {}
  public static void main(String[] a) throws Exception {
    for (;;) {
      long t0 = System.nanoTime();
      work();
      long ms = (System.nanoTime() - t0) / 1000000;
      if (ms >= 50) { System.out.println(System.currentTimeMillis() - ms); System.out.flush(); }
      Thread.sleep(10);
    }
  }
}
`,
  );
  if (spawnSync('javac', ['-d', classes, src]).status !== 0) throw new Error('javac failed');
  const jvm = spawn(JAVA, ['-cp', classes, 'Probe'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let slow = [];
  jvm.stdout.on('data', (b) => slow.push(...String(b).trim().split('\n').map(Number)));
  await new Promise((r) => setTimeout(r, 1500));
  const first = [];
  const again = [];
  try {
    for (let i = 0; i < 6; i++) {
      slow = [];
      const t0 = Date.now();
      const r = spawnSync(
        SEA,
        ['inject', 'jvm', 'methoddelay', '-p', String(jvm.pid), '-m', 'Probe@work@100', '--uid', `bench-jvm-${i}`],
        { env, encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(r.stderr);
      const until = Date.now() + 5000;
      while (!slow.length && Date.now() < until) await new Promise((res) => setTimeout(res, 5));
      // the first delayed call started at slow[0]: from the inject's start to then
      (i === 0 ? first : again).push(slow[0] - t0);
      spawnSync(SEA, ['recover', `bench-jvm-${i}`], { env });
      await new Promise((res) => setTimeout(res, 300));
    }
    console.log(
      `inject jvm methoddelay -> first delayed call (a method called every 10 ms): first attach ${first[0]} ms ` +
        `(the agent loaded into the JVM), then median ${median(again)} ms (agent reused; n=${again.length})`,
    );
  } finally {
    jvm.kill('SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
})();
