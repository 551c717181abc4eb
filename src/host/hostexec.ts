/**
 * An agent pod's way onto its node. The agent image holds the single executable and nothing else; the node has
 * the tools (tc, iptables, nsenter, ctr), the runtime sockets and the experiment store. With
 * CHAOSMETAD_HOST_EXEC=PATH (the DaemonSet sets it; PATH is a hostPath mounted at the same path), every command
 * started in the pod — the agent's `server` and each `kubectl exec` — copies the executable to PATH on the node
 * once (atomically, by build), then runs it there — in the node's mount, uts and cgroup namespaces and cgroups (the
 * native helper's `hostexec`, as `nsenter -t 1 -m -u` would) — with the same arguments, environment and exit code.
 * So experiments driven through Kubernetes and by hand on the node share one store, and `chaosmetad query` on the
 * node shows both.
 * CHAOSMETAD_HOST_PID names the node's process whose namespaces to enter (default 1; hostPID makes it the node's).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { helperPath } from './assets';
import { forTerminal } from '../util/terminal';
import { readPolicyFile } from './policyfile';
import { notOursAlone } from './safefs';

declare const __CHAOSMETAD_BUILD_ID__: string | undefined;

const nsOf = (pid: number | 'self'): string => fs.readlinkSync(`/proc/${pid}/ns/mnt`);

/** Copy this executable to `dest` unless the copy there is of this build (a sidecar file names the build). */
function install(dest: string): void {
  const build = typeof __CHAOSMETAD_BUILD_ID__ === 'string' ? __CHAOSMETAD_BUILD_ID__ : 'dev';
  const mark = `${dest}.build`;
  try {
    if (
      fs.readFileSync(mark, 'utf8') === build &&
      fs.statSync(dest).size === fs.statSync(process.execPath).size &&
      !fs.lstatSync(dest).isSymbolicLink()
    )
      return;
  } catch {
    /* not installed yet */
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o755 });
  // root runs what it copies there: no one else may be able to swap it
  const why = notOursAlone(path.dirname(dest));
  if (why) throw new Error(`CHAOSMETAD_HOST_EXEC ${dest}: ${why}; refusing to install the executable there`);
  const tmp = `${dest}.${process.pid}.tmp`;
  fs.copyFileSync(process.execPath, tmp, fs.constants.COPYFILE_EXCL);
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, dest);
  fs.writeFileSync(`${mark}.${process.pid}`, build, { mode: 0o644 });
  fs.renameSync(`${mark}.${process.pid}`, mark);
}

/**
 * When this process runs in an agent pod (CHAOSMETAD_HOST_EXEC set, and not yet in the node's mount namespace):
 * run the command on the node instead and exit with its code. Returns false when there is nothing to do.
 */
export function runOnNode(): boolean {
  const dest = process.env.CHAOSMETAD_HOST_EXEC;
  if (!dest) return false;
  const hostPid = Number(process.env.CHAOSMETAD_HOST_PID || 1);
  const fail = (why: string) => {
    process.stderr.write(`[error] agent: ${forTerminal(why)}\n`);
    process.exit(125);
  };
  if (!path.isAbsolute(dest)) fail(`CHAOSMETAD_HOST_EXEC must be an absolute path, got ${dest}`);
  if (!Number.isInteger(hostPid) || hostPid < 1) fail(`CHAOSMETAD_HOST_PID must be a pid, got ${hostPid}`);
  try {
    if (nsOf('self') === nsOf(hostPid)) return false; // on the node already (the copy there, or by hand)
  } catch (e) {
    fail(
      `cannot see the node's mount namespace through /proc/${hostPid} (${(e as Error).message}): the pod needs hostPID and privileges`,
    );
  }
  try {
    install(dest);
  } catch (e) {
    fail(`cannot install the executable at ${dest} on the node: ${(e as Error).message}`);
  }
  // the agent's own daemon stays in its pod's cgroups (it lives and dies with the pod, and the pod's limits hold);
  // every other command — and the helpers and watchers it leaves behind — moves to the node's, so a fault outlives
  // an agent restart and is recovered by its own watcher or the next agent
  const argv = process.argv.slice(2);
  const keep = argv[0] === 'server' ? ['--keep-cgroups'] : [];
  // the agent policy's file is in this pod's mounts, which the process on the node cannot see: read it here (only
  // if root alone can have written it: host/policyfile.ts) and hand its text over; a failure is handed over too,
  // and refuses every inject there (engine/policy.ts). `kubectl exec` cannot set environment variables.
  const env = { ...process.env };
  if (env.CHAOSMETAD_POLICY) {
    delete env.CHAOSMETAD_POLICY_JSON;
    delete env.CHAOSMETAD_POLICY_ERROR;
    try {
      env.CHAOSMETAD_POLICY_JSON = readPolicyFile(env.CHAOSMETAD_POLICY);
    } catch (e) {
      env.CHAOSMETAD_POLICY_ERROR = (e as Error).message;
    }
  }
  const child = spawn(helperPath(), ['hostexec', ...keep, String(hostPid), dest, ...argv], { stdio: 'inherit', env });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 128 + (sigNum[sig] ?? 1) : 1)));
  child.on('error', (e) => fail(`cannot start the helper: ${e.message}`));
  return true;
}

const sigNum: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
