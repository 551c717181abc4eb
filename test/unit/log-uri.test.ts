/**
 * containerd restart: the container's nerdctl/log-uri label becomes `ctr tasks start` arguments only when it is a
 * plain file (issue 21, item 9). Before, any label went to --log-uri: a binary:// URI ran its program as root.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { logUriArgs } from '../../src/host/runtimes';

test('no label: the default, --null-io', () => {
  expect(logUriArgs(undefined)).toEqual({ args: ['--null-io'] });
  expect(logUriArgs('')).toEqual({ args: ['--null-io'] });
});

test('a plain file:// path is passed on', () => {
  expect(logUriArgs('file:///var/log/containers/web.log')).toEqual({
    args: ['--log-uri', 'file:///var/log/containers/web.log'],
  });
});

test.each([
  ['binary:// (runs its program as root)', 'binary:///bin/sh?-c=touch+/pwned'],
  ["nerdctl's own binary:// logger", 'binary:///usr/local/bin/nerdctl?_NERDCTL_INTERNAL_LOGGING=%2Ftmp%2Fx'],
  ['fifo://', 'fifo:///tmp/x'],
  ['a relative file path', 'file://var/log/x'],
  ['a file URI with a host', 'file://evil/var/log/x'],
  ['a file URI with a query', 'file:///var/log/x?y=1'],
  ['a file URI with percent escapes', 'file:///var/log/%2e%2e/etc/x'],
  ['a file URI with ..', 'file:///var/log/../../etc/cron.d/x'],
  ['a file URI with //', 'file:///var//log/x'],
  ['a file URI ending in /', 'file:///var/log/'],
  ['a file URI with a space or a newline', 'file:///var/log/a b\n'],
  ['an option', '--help'],
])('refused: %s, with a note naming the label', (_what, label) => {
  const r = logUriArgs(label);
  expect(r.args).toEqual(['--null-io']);
  expect(r.note).toContain('nerdctl/log-uri');
  expect(r.note).toContain(JSON.stringify(label));
});

test('a file:// path that is a link or a directory is refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-loguri-'));
  try {
    fs.symlinkSync('/etc/passwd', path.join(dir, 'link'));
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'plain.log'), '');
    for (const name of ['link', 'sub']) expect(logUriArgs(`file://${dir}/${name}`).args).toEqual(['--null-io']);
    expect(logUriArgs(`file://${dir}/plain.log`).args).toEqual(['--log-uri', `file://${dir}/plain.log`]);
    expect(logUriArgs(`file://${dir}/absent.log`).args).toEqual(['--log-uri', `file://${dir}/absent.log`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
