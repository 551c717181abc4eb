/** Who holds a port: /proc/net/{tcp,udp}[6] for the socket inode, then /proc/PID/fd for its owners. */
import * as fs from 'node:fs';
import { listPids } from './procs';

/**
 * Sockets bound to the port: for tcp/udp also the IPv6 ones (a dual-stack [::] socket holds the IPv4 port too).
 * netPid: in that process's net namespace (a container's), else the host's.
 */
export function portInodes(port: number, proto: 'tcp' | 'udp' | 'tcp6' | 'udp6', netPid?: number): string[] {
  const tables = proto.endsWith('6') ? [proto] : [proto, `${proto}6`];
  return tables.flatMap((t) => inodesIn(t, port, proto.startsWith('udp'), netPid));
}

function inodesIn(table: string, port: number, udp: boolean, netPid?: number): string[] {
  const out: string[] = [];
  let text = '';
  try {
    text = fs.readFileSync(netPid ? `/proc/${netPid}/net/${table}` : `/proc/net/${table}`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const local = parseInt(f[1].split(':')[1], 16);
    const state = f[3];
    if (local === port && (udp || state === '0A')) out.push(f[9]);
  }
  return out;
}

export function socketOwners(inodes: string[]): number[] {
  if (!inodes.length) return [];
  const want = new Set(inodes.map((i) => `socket:[${i}]`));
  const owners = new Set<number>();
  for (const pid of listPids()) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (want.has(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))) {
          owners.add(pid);
          break;
        }
      } catch {
        /* closed */
      }
    }
  }
  return [...owners];
}
