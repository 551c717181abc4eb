import { Flags } from '@oclif/core';
import * as fs from 'node:fs';
import { badArgs } from '../errors';
import { ChaosCommand, dataDirFlag } from './base';

export default class Server extends ChaosCommand {
  static override summary = 'Run the HTTP daemon (the original\'s API), on loopback unless told otherwise';
  static override description =
    'Serves POST /v1/experiment/inject|query|recover and GET /v1/version on 127.0.0.1:29595. Binding beyond loopback ' +
    'needs a bearer token (--token-file or CHAOSMETAD_TOKEN); clients send "Authorization: Bearer <token>".';
  static override examples = ['chaosmetad server', 'CHAOSMETAD_TOKEN=s3cret chaosmetad server -a 0.0.0.0 -p 29595'];
  static override flags = {
    addr: Flags.string({ char: 'a', description: 'address to listen on (default 127.0.0.1)' }),
    port: Flags.string({ char: 'p', description: 'port (default 29595)' }),
    'token-file': Flags.string({ description: 'file holding the bearer token (else env CHAOSMETAD_TOKEN)' }),
    'data-dir': dataDirFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Server);
    // loaded here, not at the top: node:http cannot be part of the single executable's start-up snapshot
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createServer, isLoopback } = require('../server/http') as typeof import('../server/http');
    const host = flags.addr ?? '127.0.0.1';
    const port = flags.port === undefined ? 29595 : Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535 || !/^\d+$/.test(flags.port ?? '0')) throw badArgs(`--port must be an integer in 0..65535, got "${flags.port}"`);
    let token = process.env.CHAOSMETAD_TOKEN || undefined;
    if (flags['token-file']) {
      try { token = fs.readFileSync(flags['token-file'], 'utf8').trim(); } catch (e) { throw badArgs(`--token-file: ${(e as Error).message}`); }
    }
    if (token !== undefined && token.length < 8) throw badArgs('the token must be at least 8 characters');
    if (!isLoopback(host) && !token) throw badArgs(`--addr ${host} is beyond loopback: give a bearer token (--token-file or CHAOSMETAD_TOKEN) first`);
    const engine = this.engine(flags['data-dir'], { watcher: true });
    const log = (e: Record<string, unknown>) => process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
    const server = createServer(engine, { host, port, token }, log);
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, () => resolve()); });
    const bound = server.address();
    log({ event: 'listening', addr: host, port: typeof bound === 'object' && bound ? bound.port : port, auth: token ? 'bearer' : 'none (loopback)' });
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => { log({ event: 'stopping', signal: sig }); server.close(() => resolve()); };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
  }
}
