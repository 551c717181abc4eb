/**
 * The engine API of one node's agent, reached by `kubectl exec` into its pod: the third ChaosApi (after the local
 * engine and the HTTP client). Each call runs the agent's own CLI with --json; its replies and exit codes are the
 * CLI's, so a failure on the node keeps its exit code and message here.
 */
import type {
  ChaosApi,
  CheckReply,
  InjectReply,
  InjectRequest,
  QueryReply,
  QueryRequest,
  RecoverRequest,
  RecoverResult,
} from '../api/api';
import type { ScheduleView } from '../api/views';
import type { VersionInfo } from '../api/version';
import { ChaosError, ExitCode } from '../errors';
import { kebab } from '../faults/flags';
import { injectFlagArgv } from '../api/inject-flags';
import { QUERY_MATCH_FIELDS } from '../api/api';
import type { KubectlResult, Kubectl } from './kubectl';

export interface AgentPod {
  namespace: string;
  name: string;
  node: string;
  container: string;
  ready: boolean;
}

/** A transport failure: the command may or may not have run on the node. */
export class TransportError extends ChaosError {
  constructor(message: string) {
    super(ExitCode.Internal, message);
  }
}

/** The agent's executable inside its pod (the image's; it runs itself on the node). */
export const AGENT_BIN = '/usr/local/bin/chaosmetad';

/** The argv of an inject, as the agent's CLI takes it (fault flags in --name=value form, as ChaosMeta's operator). */
export function injectArgv(req: InjectRequest): string[] {
  const a = ['inject', req.target, req.fault];
  for (const [k, v] of Object.entries(req.args)) {
    if (v === undefined || v === false) continue;
    const value =
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
    a.push(v === true ? `--${kebab(k)}` : `--${kebab(k)}=${value}`);
  }
  a.push(...injectFlagArgv(req));
  a.push('--json');
  return a;
}

export class AgentApi implements ChaosApi {
  readonly where: string;
  constructor(
    private readonly kubectl: Kubectl,
    readonly agent: AgentPod,
    private readonly timeoutMs = 120_000,
  ) {
    this.where = `${agent.namespace}/${agent.name} on ${agent.node}`;
  }

  /** Run the agent's CLI; a transport failure throws TransportError, a failed command its own ChaosError. */
  async run(argv: string[]): Promise<KubectlResult> {
    const r = await this.kubectl.exec(
      this.agent.namespace,
      this.agent.name,
      this.agent.container,
      [AGENT_BIN, ...argv],
      this.timeoutMs,
    );
    if (r.transport)
      throw new TransportError(`kubectl exec into ${this.where}: ${r.stderr.trim() || `exit ${r.code}`}`);
    if (r.code !== 0) {
      const msg = r.stderr.trim().replace(/^\[error\] /gm, '') || `exit ${r.code}`;
      throw new ChaosError(r.code, msg);
    }
    return r;
  }

  private async json<T>(argv: string[]): Promise<T> {
    const r = await this.run(argv);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new ChaosError(ExitCode.Internal, `${this.where}: not a JSON reply: ${line.slice(0, 200)}`);
    }
  }

  async inject(req: InjectRequest): Promise<InjectReply> {
    if (req.schedule) throw new ChaosError(ExitCode.BadArgs, 'schedules are not driven through kube (yet)');
    return this.json<InjectReply>(injectArgv(req));
  }

  async query(q: QueryRequest): Promise<QueryReply> {
    const a = ['query', '--format', 'json'];
    const opt = (name: string, v: string | number | undefined) => {
      if (v !== undefined && v !== '') a.push(`--${name}=${String(v)}`);
    };
    for (const field of QUERY_MATCH_FIELDS) opt(kebab(field), q[field]);
    opt('offset', q.offset);
    opt('limit', q.limit ?? 0);
    if (q.live) a.push('--all');
    return this.json<QueryReply>(a);
  }

  async recover(req: RecoverRequest): Promise<RecoverResult[]> {
    const a = ['recover'];
    if (req.uid) a.push(req.uid);
    if (req.all) a.push('--all');
    if (req.expired) a.push('--expired');
    if (req.target) a.push(`--target=${req.target}`);
    if (req.fault) a.push(`--fault=${req.fault}`);
    a.push('--json');
    // one uid that failed: the CLI exits 5 with the reason, thrown here as that ChaosError
    return (await this.json<{ results: RecoverResult[] }>(a)).results;
  }

  async renew(uid: string, lease?: string) {
    return this.json<{ uid: string; lease_until: string }>([
      'renew',
      uid,
      ...(lease ? [`--lease=${lease}`] : []),
      '--json',
    ]);
  }

  async check(uid: string): Promise<CheckReply> {
    return this.json<CheckReply>(['check', uid, '--json']);
  }

  async schedules(): Promise<ScheduleView[]> {
    return (await this.json<{ schedules: ScheduleView[] }>(['schedule', 'list', '--json'])).schedules;
  }

  async removeSchedule(id: string): Promise<void> {
    await this.run(['schedule', 'remove', id]);
  }

  async version(): Promise<VersionInfo> {
    return this.json<VersionInfo>(['version']);
  }

  close(): void {}
}
