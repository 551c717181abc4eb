import {
  addrKey,
  isThisHost,
  keyText,
  listenersOf,
  parseProcNetTcp,
  peerEntries,
  trustedUid,
  unixListeners,
} from '../../src/api/peer';

test('addresses in text become one key (IPv4 as ::ffff:a.b.c.d), and back', () => {
  expect(addrKey('127.0.0.1')).toBe('00000000000000000000ffff7f000001');
  expect(addrKey('::ffff:127.0.0.1')).toBe(addrKey('127.0.0.1'));
  expect(addrKey('[::1]')).toBe('0'.repeat(31) + '1');
  expect(addrKey('fe80::1%eth0')).toBe('fe80' + '0'.repeat(27) + '1');
  expect(addrKey('2001:db8:0:0:0:0:0:1')).toBe(addrKey('2001:db8::1'));
  for (const bad of ['localhost', '256.0.0.1', '1:2:3', '1::2::3', '', '1:2:3:4:5:6:7:8:9'])
    expect(addrKey(bad)).toBeUndefined();
  expect(keyText(addrKey('10.1.2.3')!)).toBe('10.1.2.3');
  expect(keyText(addrKey('::1')!)).toBe('0:0:0:0:0:0:0:1');
  expect(isThisHost('127.0.0.2')).toBe(true);
  expect(isThisHost('::1')).toBe(true);
  expect(isThisHost('0.0.0.0')).toBe(true);
  expect(isThisHost('203.0.113.77')).toBe(false); // TEST-NET-3, on no interface here
  expect(trustedUid(0)).toBe(true);
});

// as the kernel prints them on a little-endian host: a root daemon on 127.0.0.1:40000 (listener, and the socket it
// accepted from our 127.0.0.1:51000), our own socket, nobody's listener on [::1]:40000, a TIME_WAIT entry
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0 10 0
   1: 0100007F:9C40 0100007F:C738 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0 20 4 30 10 -1
   2: 0100007F:C738 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0 20 4 30 10 -1
   3: 0100007F:9C40 0100007F:C739 06 00000000:00000000 03:00000491 00000000     0        0 0 3 0
   4: 0100007F:9C41 0100007F:C73A 01 00000000:00000000 00:00000000 00000000 65534        0 4444 1 0 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:9C40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 5555 1 0 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:9C42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6666 1 0 100 0 0 10 0
   2: 00000000000000000000000000000000:9C43 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7777 1 0 100 0 0 10 0
`;

test("/proc/net/tcp{,6}: this connection's other end, and the listeners of an address", () => {
  const table = [...parseProcNetTcp(TCP), ...parseProcNetTcp(TCP6)];
  expect(table.length).toBe(8);
  const ep = (a: string, port: number) => ({ key: addrKey(a)!, port });
  // our socket 127.0.0.1:51000 → 127.0.0.1:40000: the daemon's accepted socket, uid 0 (not our own entry)
  const peer = peerEntries(table, { local: ep('127.0.0.1', 51000), remote: ep('127.0.0.1', 40000) });
  expect(peer.map((p) => [p.uid, p.inode])).toEqual([[0, 2222]]);
  // a TIME_WAIT entry (listed as uid 0 whoever owned it) is no one's
  expect(peerEntries(table, { local: ep('127.0.0.1', 51001), remote: ep('127.0.0.1', 40000) })).toEqual([]);
  expect(peerEntries(table, { local: ep('127.0.0.1', 51002), remote: ep('127.0.0.1', 40001) })[0].uid).toBe(65534);
  expect(listenersOf(table, ep('127.0.0.1', 40000)).map((e) => e.inode)).toEqual([1111]);
  expect(listenersOf(table, ep('::1', 40000)).map((e) => [e.inode, e.uid])).toEqual([[5555, 65534]]);
  expect(listenersOf(table, ep('127.0.0.1', 40002)).map((e) => e.inode)).toEqual([6666]); // v4-mapped in tcp6
  expect(listenersOf(table, ep('127.0.0.1', 40003)).map((e) => e.inode)).toEqual([7777]); // [::] takes v4 too
  expect(parseProcNetTcp(TCP, false)[0].local.key).toBe(addrKey('1.0.0.127')); // a big-endian host's order
});

test('/proc/net/unix: the listeners bound to a path', () => {
  const text = `Num       RefCount Protocol Flags    Type St Inode Path
00000000bc049f1c: 00000002 00000000 00010000 0001 01 161132 /run/chaosmetad/d.sock
000000004ff25270: 00000003 00000000 00000000 0001 03 161140 /run/chaosmetad/d.sock
00000000c25e6162: 00000003 00000000 00000000 0001 03  1199
00000000c25e6163: 00000002 00000000 00010000 0001 01 161150 /tmp/a dir/s.sock
00000000c25e6164: 00000002 00000000 00010000 0001 01 161151 /run/chaosmetad/d.sock.old
`;
  expect(unixListeners(text, ['/run/chaosmetad/d.sock'])).toEqual([161132]);
  expect(unixListeners(text, ['/tmp/a dir/s.sock', '/x'])).toEqual([161150]);
});
