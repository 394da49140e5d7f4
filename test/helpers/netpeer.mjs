// A test process that runs inside a network namespace and a cgroup, driven by JSON lines on stdin:
// {id, op, ...} → one JSON line {id, ok, ...} on stdout. Ops: pid, listen (tcp echo / udp echo /
// dns responder), connect (optionally kept open), send (echo round trip on a kept socket), close,
// udp (one datagram and its echo), resolve (a real resolver query), ping (ICMP echo via python3),
// stats, connectLoop and rr (bench loops). Plain JS: it runs with bare node.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { createInterface } from 'node:readline';

const handles = new Map();
const servers = [];
let nextHandle = 1;
const stats = { accepted: 0, udpReceived: 0, dnsQueries: 0 };

const reply = (id, body) => process.stdout.write(JSON.stringify({ id, ...body }) + '\n');
const errBody = (e) => ({ ok: false, code: e && e.code ? e.code : 'ERROR', message: String(e && e.message ? e.message : e) });

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(Object.assign(new Error(`${what}: timeout`), { code: 'TIMEOUT' })), ms); })])
    .finally(() => clearTimeout(t));
}

function tcpConnect(host, port, ms, localAddress) {
  let s;
  return withTimeout(new Promise((res, rej) => {
    s = net.connect(localAddress ? { host, port, localAddress } : { host, port });
    s.setNoDelay(true);
    s.once('connect', () => res(s));
    s.once('error', rej);
  }), ms, 'connect').catch((e) => {
    s.on('error', () => {});
    s.destroy(); // no SYN retransmits after a timeout
    throw e;
  });
}

function echoOnce(s, data, ms) {
  return withTimeout(new Promise((res, rej) => {
    let got = '';
    const onData = (d) => {
      got += d.toString();
      if (got.length >= data.length) { s.off('data', onData); s.off('error', rej); res(got); }
    };
    s.on('data', onData);
    s.once('error', rej);
    s.write(data);
  }), ms, 'echo');
}

// ---- DNS responder: answers A/AAAA from a table, NXDOMAIN otherwise ----
function dnsName(buf, off) {
  const labels = [];
  for (;;) {
    const len = buf[off++];
    if (!len) break;
    labels.push(buf.subarray(off, off + len).toString('latin1'));
    off += len;
  }
  return { name: labels.join('.'), off };
}

function dnsAnswer(q, table) {
  const { name, off } = dnsName(q, 12);
  const qtype = q.readUInt16BE(off);
  const question = q.subarray(12, off + 4);
  const answers = [];
  const cname = table[`CNAME ${name}`];
  let target = name;
  if (cname) {
    const rdata = Buffer.concat([...cname.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
    answers.push({ nameOff: 12, type: 5, rdata, owner: null });
    target = cname;
  }
  const addrs = qtype === 28 ? table[`AAAA ${target}`] : table[`A ${target}`];
  for (const a of addrs ?? []) {
    const rdata = qtype === 28 ? Buffer.from(a.replace(/:/g, '').padEnd(32, '0'), 'hex') : Buffer.from(a.split('.').map(Number));
    answers.push({ type: qtype === 28 ? 28 : 1, rdata, owner: cname ? target : null });
  }
  const found = answers.length > 0;
  const head = Buffer.alloc(12);
  q.copy(head, 0, 0, 2);
  head.writeUInt16BE(0x8180 | (found ? 0 : 3), 2); // response, RD, RA; rcode NXDOMAIN when unknown
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answers.length, 6);
  const parts = [head, question];
  for (const a of answers) {
    const rr = Buffer.alloc(10);
    rr.writeUInt16BE(a.type, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt32BE(60, 4);
    rr.writeUInt16BE(a.rdata.length, 8);
    const owner = a.owner
      ? Buffer.concat([...a.owner.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])])
      : Buffer.from([0xc0, 12]);
    parts.push(owner, rr, a.rdata);
  }
  return Buffer.concat(parts);
}

function pingPython(host, count, ms) {
  // a raw ICMP socket: what ping does; one echo request per count, waits for its reply
  const v6 = host.includes(':');
  const code = `
import socket, struct, sys, time, os
host, count, tmo, v6 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == '1'
fam = socket.AF_INET6 if v6 else socket.AF_INET
proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
s = socket.socket(fam, socket.SOCK_RAW, proto)
s.settimeout(tmo)
ident = os.getpid() & 0xffff
ok = 0
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b)//2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return (~t) & 0xffff
for seq in range(count):
    t = 128 if v6 else 8
    hdr = struct.pack('!BBHHH', t, 0, 0, ident, seq) + b'palisade'
    if not v6: hdr = struct.pack('!BBHHH', t, 0, csum(hdr), ident, seq) + b'palisade'
    try:
        s.sendto(hdr, (host, 0))
    except OSError as e:
        print('ERR', e.errno); sys.exit(0)
    end = time.time() + tmo
    while time.time() < end:
        try: d, a = s.recvfrom(2048)
        except socket.timeout: break
        off = 0 if v6 else (d[0] & 15) * 4
        if d[off] == (129 if v6 else 0) and struct.unpack('!H', d[off+4:off+6])[0] == ident:
            ok += 1; break
print('OK', ok)
`;
  return withTimeout(new Promise((res, rej) => {
    const p = spawn('python3', ['-c', code, host, String(count), String(ms / 1000), v6 ? '1' : '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', rej);
    p.on('close', () => {
      const m = /^(OK|ERR) (\d+)/m.exec(out);
      if (!m) return rej(new Error(`ping: ${out} ${err}`));
      if (m[1] === 'ERR') return res({ ok: false, code: Number(m[2]) === 1 ? 'EPERM' : `errno ${m[2]}`, replies: 0 });
      res({ ok: true, replies: Number(m[2]) });
    });
  }), ms * count + 5000, 'ping');
}

async function handle(cmd) {
  switch (cmd.op) {
    case 'pid':
      return { ok: true, pid: process.pid };
    case 'stats':
      return { ok: true, ...stats };
    case 'listen': {
      if (cmd.proto === 'tcp') {
        const srv = net.createServer((s) => {
          stats.accepted++;
          s.setNoDelay(true);
          s.on('data', (d) => s.write(d));
          s.on('error', () => {});
        });
        await new Promise((res, rej) => { srv.once('error', rej); srv.listen({ port: cmd.port, host: cmd.host ?? '::', ipv6Only: false }, res); });
        servers.push(srv);
        return { ok: true, port: srv.address().port };
      }
      const sock = dgram.createSocket({ type: cmd.host && cmd.host.includes(':') ? 'udp6' : 'udp4' });
      sock.on('message', (m, r) => {
        stats.udpReceived++;
        if (cmd.dns) {
          stats.dnsQueries++;
          sock.send(dnsAnswer(m, cmd.dns), r.port, r.address);
        } else {
          sock.send(m, r.port, r.address);
        }
      });
      sock.on('error', () => {});
      await new Promise((res, rej) => { sock.once('error', rej); sock.bind(cmd.port, cmd.host ?? '0.0.0.0', res); });
      servers.push(sock);
      return { ok: true, port: sock.address().port };
    }
    case 'connect': {
      try {
        const s = await tcpConnect(cmd.host, cmd.port, cmd.timeoutMs ?? 3000, cmd.localAddress);
        const body = { ok: true, localPort: s.localPort };
        if (cmd.data) body.reply = await echoOnce(s, cmd.data, cmd.timeoutMs ?? 3000);
        if (cmd.keep) {
          const h = nextHandle++;
          s.on('error', () => {});
          handles.set(h, s);
          body.handle = h;
        } else {
          s.destroy();
        }
        return body;
      } catch (e) {
        return errBody(e);
      }
    }
    case 'send': {
      const s = handles.get(cmd.handle);
      if (!s) return { ok: false, code: 'NOHANDLE' };
      try {
        return { ok: true, reply: await echoOnce(s, cmd.data, cmd.timeoutMs ?? 3000) };
      } catch (e) {
        return errBody(e);
      }
    }
    case 'close': {
      const s = handles.get(cmd.handle);
      handles.delete(cmd.handle);
      if (s) await new Promise((res) => { s.once('close', res); s.end(); setTimeout(() => { s.destroy(); }, 1000); });
      return { ok: true };
    }
    case 'udp': {
      const sock = dgram.createSocket(cmd.host.includes(':') ? 'udp6' : 'udp4');
      try {
        const got = withTimeout(new Promise((res) => sock.once('message', (m) => res(m.toString()))), cmd.timeoutMs ?? 2000, 'udp');
        got.catch(() => {}); // a refused send returns first: its timeout must not be an unhandled rejection
        await new Promise((res, rej) => sock.send(cmd.data, cmd.port, cmd.host, (e) => (e ? rej(e) : res())));
        return { ok: true, reply: await got };
      } catch (e) {
        return errBody(e);
      } finally {
        sock.close();
      }
    }
    case 'resolve': {
      const r = new Resolver({ timeout: cmd.timeoutMs ?? 2000, tries: 1 });
      r.setServers([cmd.server]);
      try {
        return { ok: true, addrs: cmd.type === 'AAAA' ? await r.resolve6(cmd.name) : await r.resolve4(cmd.name) };
      } catch (e) {
        return errBody(e);
      }
    }
    case 'ping':
      try {
        return await pingPython(cmd.host, cmd.count ?? 1, cmd.timeoutMs ?? 1000);
      } catch (e) {
        return errBody(e);
      }
    case 'connectLoop': {
      // n sequential connect + close; returns ns per connect
      const t0 = process.hrtime.bigint();
      let fails = 0;
      for (let i = 0; i < cmd.n; i++) {
        try {
          const s = await tcpConnect(cmd.host, cmd.port, 3000);
          s.destroy();
        } catch {
          fails++;
        }
      }
      return { ok: true, ns: Number(process.hrtime.bigint() - t0), fails };
    }
    case 'rr': {
      // n request/response round trips of `size` bytes on a new connection; per-trip latencies in ns
      const s = await tcpConnect(cmd.host, cmd.port, 3000);
      const data = 'x'.repeat(cmd.size ?? 64);
      const lat = [];
      for (let i = 0; i < cmd.n; i++) {
        const t = process.hrtime.bigint();
        await echoOnce(s, data, 3000);
        lat.push(Number(process.hrtime.bigint() - t));
      }
      s.destroy();
      lat.sort((a, b) => a - b);
      return { ok: true, p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)], mean: lat.reduce((a, b) => a + b, 0) / lat.length };
    }
    default:
      return { ok: false, code: 'BADOP', message: `unknown op ${cmd.op}` };
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return;
  }
  handle(cmd).then((b) => reply(cmd.id, b), (e) => reply(cmd.id, errBody(e)));
});
process.stdin.on('end', () => process.exit(0));
reply(0, { ok: true, ready: true, pid: process.pid });
