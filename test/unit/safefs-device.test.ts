/**
 * Inside a container's root (/proc/PID/root…), a uid-0 directory on another device than that root's (a volume, a
 * hostPath, a tmpfs) is not taken for one only root could have changed (issue 21, item 9): its uid 0 may be
 * another container's root. Here /proc/<this pid>/root stands for a container's root: the host's /, whose device
 * /tmp shares and /dev/shm (a tmpfs) does not. (Before: the link in /dev/shm was followed.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveSafe, workDirChecked } from '../../src/host/safefs';

const other = fs.existsSync('/dev/shm') && fs.statSync('/dev/shm').dev !== fs.statSync('/').dev;
const same = fs.statSync('/tmp').dev === fs.statSync('/').dev;
const root = `/proc/${process.pid}/root`;
const made: string[] = [];
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A root-only directory (root's, 0755) holding a link to /etc. */
function withLink(parent: string): string {
  const d = fs.mkdtempSync(path.join(parent, 'cmd-unit-dev-'));
  made.push(d);
  fs.chmodSync(d, 0o755);
  fs.symlinkSync('/etc', path.join(d, 'etc'));
  return d;
}

(process.getuid?.() === 0 && other ? test : test.skip)(
  "a link in a uid-0 directory on another device than the container's root is not followed there",
  () => {
    const d = withLink('/dev/shm');
    expect(() => resolveSafe(`${root}${d}/etc/hostname`)).toThrow(
      /symbolic link in .*, which is on another filesystem than the container's root .*refusing to follow it as root/,
    );
    expect(() => workDirChecked(`${root}${d}`, 'dir')).toThrow(/on another filesystem than the container's root/);
    // on the host (no container root) a root-only directory is root's: the link is followed as before
    expect(resolveSafe(`${d}/etc/hostname`).path).toBe('/etc/hostname');
    expect(workDirChecked(d, 'dir')).toBe(d);
  },
);

(process.getuid?.() === 0 && same ? test : test.skip)(
  "a link in a uid-0 directory on the container root's own device is followed, inside that root",
  () => {
    const d = withLink('/tmp');
    expect(resolveSafe(`${root}${d}/etc/hostname`).path).toBe(`${root}/etc/hostname`);
    expect(workDirChecked(`${root}${d}`, 'dir')).toBe(`${root}${d}`);
  },
);
