// The TracingPolicy engine end to end: policies compiled into real BPF programs in this kernel,
// selectors evaluated there, real processes triggering them, events read from the agent's export.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, runCli, startAgent, type Ev, type RunningAgent } from '../helpers/agent.js';
import { hookEvents, tracingPolicy } from '../helpers/tracing.js';

let agent: RunningAgent;
let work: string;
let seq = 0;

beforeAll(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'pal-tr-')));
  agent = await startAgent();
});

afterAll(async () => {
  if (agent) await agent.stop();
  cleanup(agent);
  rmSync(work, { recursive: true, force: true });
});

/** Writes a policy file and adds it to the running agent; returns the CLI result. */
async function addPolicy(yaml: string, extra: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string; file: string }> {
  const file = join(work, `policy-${seq++}.yaml`);
  writeFileSync(file, yaml);
  const r = await runCli(['policy', 'add', file, '--socket', agent.socket, ...extra]);
  return { ...r, file };
}

async function deletePolicy(name: string): Promise<void> {
  const r = await runCli(['policy', 'delete', name, '--socket', agent.socket]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

/** An openat tracepoint policy; `selectors` is YAML indented for the selectors list. */
function openPolicy(name: string, selectors: string, options = ''): string {
  return tracingPolicy(name, `${options}  tracepoints:
  - subsystem: syscalls
    event: sys_enter_openat
    message: "open watched by ${name}"
    tags: ["test"]
    args:
    - index: 5
      type: int
    - index: 6
      type: string
    - index: 7
      type: int
    selectors:
${selectors}`);
}

/** A selector matching opens of exactly `path`. */
const equalPath = (path: string): string => `    - matchArgs:
      - index: 6
        operator: Equal
        values: ["${path}"]
`;

/** Opens each path read-only in one short-lived process of `bin`. */
function openWith(bin: string, paths: string[]): ReturnType<typeof spawnSync> {
  return spawnSync(bin, ['-c', paths.map((p) => `: < ${p}`).join('; ') + '; exit 0'], { encoding: 'utf8' });
}

describe('tracepoint policies with in-kernel selectors', () => {
  it('posts only opens matching Prefix and matchBinaries; non-matching opens produce no event at all', async () => {
    const dir = join(work, 'watched');
    execFileSync('mkdir', ['-p', dir]);
    for (const f of ['a', 'b', 'other']) writeFileSync(join(dir, f), f);
    const sh = join(work, 'pal-sh');
    copyFileSync('/usr/bin/dash', sh);
    execFileSync('chmod', ['755', sh]);
    const r = await addPolicy(openPolicy('prefix-bin', `    - matchArgs:
      - index: 6
        operator: Prefix
        values: ["${dir}/a", "${dir}/b"]
      matchBinaries:
      - operator: In
        values: ["${sh}"]
`));
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('added prefix-bin');

    // Matching path from another binary, non-matching paths from the watched binary: nothing.
    openWith('/usr/bin/dash', [`${dir}/a`, `${dir}/b`]);
    for (let i = 0; i < 50; i++) openWith(sh, [`${dir}/other`, '/etc/hostname']);
    // The one process that matches both filters: two events.
    openWith(sh, [`${dir}/a`, `${dir}/other`, `${dir}/b`]);
    await agent.waitFor((e) => hookEvents(e, 'prefix-bin').length >= 2, 15_000, 'prefix-bin events');
    await new Promise((res) => setTimeout(res, 300));
    const got = hookEvents(agent.events(), 'prefix-bin');
    expect(got.map((b) => b.args[1].string_arg)).toEqual([`${dir}/a`, `${dir}/b`]);
    const ev = got[0]!;
    expect(ev).toMatchObject({
      subsys: 'syscalls', event: 'sys_enter_openat', action: 'KPROBE_ACTION_POST', message: 'open watched by prefix-bin', tags: ['test'],
      process: { binary: sh },
    });
    expect(ev.args[0]).toEqual({ int_arg: -100 }); // AT_FDCWD
    expect(ev.parent.pid).toBe(process.pid);
    // The silence is the filter's doing: the agent saw every run of the watched binary.
    const all = agent.events();
    expect(all.filter((e) => e.process_exec?.process.binary === sh).length).toBeGreaterThanOrEqual(51);

    const list = await runCli(['policy', 'list', '-o', 'json', '--socket', agent.socket]);
    const row = (JSON.parse(list.stdout) as Ev[]).find((p) => p.name === 'prefix-bin')!;
    expect(row).toMatchObject({ state: 'enabled', mode: 'enforce', hooks: ['syscalls/sys_enter_openat'] });
    expect(row.counts.posted).toBe(2); // counted in the kernel: the 100+ other opens were never posted
    expect(row.kernelMemoryBytes).toBeGreaterThan(0);
    await deletePolicy('prefix-bin');
  });

  it('Sigkill kills the process (the open itself completes) and the event records it; monitor mode only reports', async () => {
    const target = join(work, 'kill-me');
    const policy = (name: string, options = ''): string =>
      openPolicy(name, `    - matchArgs:
      - index: 6
        operator: Equal
        values: ["${target}"]
      matchActions:
      - action: Sigkill
`, options);
    expect((await addPolicy(policy('kill-enforce'))).stderr).toBe('');
    const killed = spawnSync('/usr/bin/dash', ['-c', `echo x > ${target}; echo survived`], { encoding: 'utf8' });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).not.toContain('survived');
    expect(spawnSync('test', ['-e', target]).status).toBe(0); // O_CREAT happened: Sigkill acts on return
    const evs = await agent.waitFor((e) => hookEvents(e, 'kill-enforce').length >= 1, 15_000, 'the kill event');
    expect(hookEvents(evs, 'kill-enforce')[0]).toMatchObject({ action: 'KPROBE_ACTION_SIGKILL', enforced: true });
    await deletePolicy('kill-enforce');

    expect((await addPolicy(policy('kill-monitor'), ['--mode', 'monitor'])).stderr).toBe('');
    const lived = spawnSync('/usr/bin/dash', ['-c', `echo x > ${target}; echo survived`], { encoding: 'utf8' });
    expect(lived.status).toBe(0);
    expect(lived.stdout).toContain('survived');
    const mon = await agent.waitFor((e) => hookEvents(e, 'kill-monitor').length >= 1, 15_000, 'the monitor event');
    expect(hookEvents(mon, 'kill-monitor')[0]).toMatchObject({ action: 'KPROBE_ACTION_SIGKILL', enforced: false, policy_mode: 'monitor' });
    await deletePolicy('kill-monitor');
  });

  it('matchPIDs followForks matches the pid and its descendants only; NotIn binaries excludes', async () => {
    const marker = join(work, `pids-${process.pid}`);
    writeFileSync(marker, '');
    // A parent shell that waits for a go signal, then forks children that open the marker.
    const parent = spawn('/usr/bin/bash', ['-c', `read go; : < ${marker}; /usr/bin/cat ${marker}; /usr/bin/head -c0 ${marker}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    const sel = (op: string): string => `    - matchPIDs:
      - operator: In
        followForks: true
        values: [${parent.pid}]
      matchArgs:
      - index: 6
        operator: Equal
        values: ["${marker}"]
${op}`;
    expect((await addPolicy(openPolicy('pids-follow', sel(''))).then((r) => r.stderr))).toBe('');
    expect((await addPolicy(openPolicy('pids-notin', sel(`      matchBinaries:
      - operator: NotIn
        values: ["/usr/bin/cat"]
`)))).stderr).toBe('');
    openWith('/usr/bin/dash', [marker]); // not a descendant
    parent.stdin!.end('go\n');
    await new Promise((res) => parent.once('exit', res));
    const evs = await agent.waitFor((e) => hookEvents(e, 'pids-follow').length >= 3 && hookEvents(e, 'pids-notin').length >= 2, 15_000, 'pid events');
    expect(hookEvents(evs, 'pids-follow').map((b) => b.process.binary).sort()).toEqual(['/usr/bin/bash', '/usr/bin/cat', '/usr/bin/head']);
    expect(hookEvents(evs, 'pids-notin').map((b) => b.process.binary).sort()).toEqual(['/usr/bin/bash', '/usr/bin/head']);
    await deletePolicy('pids-follow');
    await deletePolicy('pids-notin');
  });

  it('matchNamespaces host_ns: a process in its own mount namespace does not match', async () => {
    const marker = join(work, 'ns-marker');
    writeFileSync(marker, '');
    expect((await addPolicy(openPolicy('ns-host', `    - matchNamespaces:
      - namespace: Mnt
        operator: In
        values: ["host_ns"]
      matchArgs:
      - index: 6
        operator: Equal
        values: ["${marker}"]
`))).stderr).toBe('');
    expect(spawnSync('unshare', ['-m', '/usr/bin/dash', '-c', `: < ${marker}`]).status).toBe(0);
    openWith('/usr/bin/dash', [marker]);
    await agent.waitFor((e) => hookEvents(e, 'ns-host').length >= 1, 15_000, 'ns event');
    await new Promise((res) => setTimeout(res, 300));
    const got = hookEvents(agent.events(), 'ns-host');
    expect(got).toHaveLength(1);
    expect(got[0]!.process.binary).toBe('/usr/bin/dash');
    // unshare execs dash in its own process: the agent saw that dash, and it is not the one reported.
    const unshared = agent.events().find((e) => e.process_exec?.process.binary === '/usr/bin/unshare' && e.process_exec.process.arguments.includes(marker));
    expect(unshared).toBeDefined();
    const pid = unshared!.process_exec.process.pid;
    expect(agent.events().some((e) => e.process_exec?.process.binary === '/usr/bin/dash' && e.process_exec.process.pid === pid)).toBe(true);
    expect(got[0]!.process.pid).not.toBe(pid);
    await deletePolicy('ns-host');
  });

  it('rateLimit posts identical events once per window and counts the rest; NoPost posts nothing', async () => {
    // Two paths that differ only past their first 16 bytes: each is its own event.
    const marker = join(work, 'rate-marker');
    const second = `${marker}-second`;
    writeFileSync(marker, '');
    writeFileSync(second, '');
    expect((await addPolicy(openPolicy('rate', `    - matchArgs:
      - index: 6
        operator: Prefix
        values: ["${marker}"]
      matchActions:
      - action: Post
        rateLimit: 1m
        rateLimitScope: global
`))).stderr).toBe('');
    const nopost = join(work, 'nopost-marker');
    writeFileSync(nopost, '');
    expect((await addPolicy(openPolicy('nopost', `    - matchArgs:
      - index: 6
        operator: Equal
        values: ["${nopost}"]
      matchActions:
      - action: NoPost
`))).stderr).toBe('');
    openWith('/usr/bin/dash', [...Array(20).fill(marker), ...Array(20).fill(second)]);
    openWith('/usr/bin/dash', Array(5).fill(nopost));
    await agent.waitFor((e) => hookEvents(e, 'rate').length >= 2, 15_000, 'rate events');
    await new Promise((res) => setTimeout(res, 300));
    expect(hookEvents(agent.events(), 'rate').map((b) => b.args[1].string_arg)).toEqual([marker, second]);
    expect(hookEvents(agent.events(), 'nopost')).toHaveLength(0);
    const rows = JSON.parse((await runCli(['policy', 'list', '-o', 'json', '--socket', agent.socket])).stdout) as Ev[];
    expect(rows.find((p) => p.name === 'rate')!.counts).toMatchObject({ posted: 2, rate_limited: 38 });
    expect(rows.find((p) => p.name === 'nopost')!.counts).toMatchObject({ posted: 0 });
    await deletePolicy('rate');
    await deletePolicy('nopost');
  });

  it('adding and deleting policies while events flow loses no event of another policy', async () => {
    const marker = join(work, 'flow-marker');
    writeFileSync(marker, '');
    expect((await addPolicy(openPolicy('flow', equalPath(marker)))).stderr).toBe('');
    // The loop runs until the churn is over and says how many opens it made (paced: a few thousand).
    const stop = join(work, 'flow-stop');
    const loop = spawn('/usr/bin/dash', ['-c', `i=0; while [ ! -e ${stop} ]; do : < ${marker}; i=$((i+1)); sleep 0.001; done; echo $i`]);
    let out = '';
    loop.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise((res) => loop.once('exit', res));
    for (let churn = 0; churn < 10; churn++) {
      const r = await addPolicy(openPolicy(`churn-${churn}`, `    - matchArgs:
      - index: 6
        operator: Prefix
        values: ["/nonexistent-${churn}"]
`));
      expect(r.stderr).toBe('');
      await deletePolicy(`churn-${churn}`);
    }
    writeFileSync(stop, '');
    await done;
    const n = Number(out.trim());
    expect(n).toBeGreaterThan(100);
    const evs = await agent.waitFor((e) => hookEvents(e, 'flow').length >= n, 30_000, `${n} flow events`);
    expect(hookEvents(evs, 'flow')).toHaveLength(n);
    await deletePolicy('flow');
  });
});

describe('buffers', () => {
  it('reads a char_buf whose length is another tracepoint field (sizeArgIndex)', async () => {
    const sh = spawn('/usr/bin/dash', ['-c', 'read go; printf palisade-buf > /dev/null'], { stdio: ['pipe', 'ignore', 'ignore'] });
    expect((await addPolicy(tracingPolicy('write-buf', `  tracepoints:
  - subsystem: syscalls
    event: sys_enter_write
    args:
    - index: 5
      type: int
    - index: 6
      type: char_buf
      sizeArgIndex: 8
    - index: 7
      type: size_t
    selectors:
    - matchPIDs:
      - operator: In
        values: [${sh.pid}]
`))).stderr).toBe(''); // sys_enter_write: 5 fd, 6 buf, 7 count (sizeArgIndex counts from 1)
    sh.stdin!.end('go\n');
    await new Promise((res) => sh.once('exit', res));
    const evs = await agent.waitFor((e) => hookEvents(e, 'write-buf').length >= 1, 15_000, 'write event');
    expect(hookEvents(evs, 'write-buf')[0]!.args).toEqual([
      { int_arg: 1 }, { bytes_arg: Buffer.from('palisade-buf').toString('base64') }, { size_arg: '12' },
    ]);
    await deletePolicy('write-buf');
  });
});

describe('raw tracepoints', () => {
  it('reads raw arguments: raw_syscalls/sys_enter with the syscall number, for one process', async () => {
    const sh = spawn('/usr/bin/bash', ['-c', 'read go; for i in 1 2 3; do : ; done; exit 0'], { stdio: ['pipe', 'ignore', 'ignore'] });
    expect((await addPolicy(tracingPolicy('raw-sys-enter', `  tracepoints:
  - subsystem: raw_syscalls
    event: sys_enter
    raw: true
    args:
    - index: 1
      type: long
    selectors:
    - matchPIDs:
      - operator: In
        values: [${sh.pid}]
      matchArgs:
      - index: 1
        operator: Equal
        values: ["231"]
`))).stderr).toBe(''); // 231: exit_group on x86_64
    sh.stdin!.end('go\n');
    await new Promise((res) => sh.once('exit', res));
    const evs = await agent.waitFor((e) => hookEvents(e, 'raw-sys-enter').length >= 1, 15_000, 'raw tracepoint event');
    const ev = hookEvents(evs, 'raw-sys-enter')[0]!;
    expect(ev).toMatchObject({ subsys: 'raw_syscalls', event: 'sys_enter', args: [{ long_arg: '231' }], process: { pid: sh.pid } });
    await deletePolicy('raw-sys-enter');
  });
});

/** The file offset of a function: its address mapped through the program header that loads it. */
function fileOffset(bin: string, symbol: string): number {
  const addr = parseInt(/^([0-9a-f]+) T (\S+)$/m.exec(execFileSync('nm', ['--defined-only', bin], { encoding: 'utf8' }).split('\n').filter((l) => l.endsWith(` T ${symbol}`)).join('\n'))![1]!, 16);
  for (const l of execFileSync('readelf', ['-lW', bin], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+\S+\s+0x([0-9a-f]+)/.exec(l);
    if (!m) continue;
    const [off, vaddr, size] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
    if (addr >= vaddr && addr < vaddr + size) return addr - vaddr + off;
  }
  throw new Error(`${symbol}: no LOAD segment holds 0x${addr.toString(16)}`);
}

describe('uprobes', () => {
  it('decodes the arguments of a function in a test program', async () => {
    const src = join(work, 'target.c');
    const bin = join(work, 'pal-uprobe-target');
    writeFileSync(src, `#include <stdio.h>
#include <string.h>
__attribute__((noinline)) int pal_target(int a, long b, const char *s) { return printf("%d %ld %s\\n", a, b, s) > 0; }
/* on the stack: a page the process has touched (a probe cannot fault pages in) */
int main(void) { char s[32]; strcpy(s, "hello uprobe"); return !pal_target(-7, 1234567890123L, s); }
`);
    execFileSync('clang', ['-O1', '-g', '-o', bin, src]);
    expect((await addPolicy(tracingPolicy('uprobe-test', `  uprobes:
  - path: ${bin}
    symbols: [pal_target]
    args:
    - index: 0
      type: int
    - index: 1
      type: long
    - index: 2
      type: string
`))).stderr).toBe('');
    expect(spawnSync(bin).status).toBe(0);
    const evs = await agent.waitFor((e) => hookEvents(e, 'uprobe-test').length >= 1, 15_000, 'uprobe event');
    const ev = hookEvents(evs, 'uprobe-test')[0]!;
    expect(ev).toMatchObject({ path: bin, symbol: 'pal_target', process: { binary: bin } });
    expect(ev.args).toEqual([{ int_arg: -7 }, { long_arg: '1234567890123' }, { string_arg: 'hello uprobe' }]);
    await deletePolicy('uprobe-test');
  });

  it('attaches by file offset (offsets) as well as by symbol', async () => {
    const src = join(work, 'off.c');
    const bin = join(work, 'pal-offset-target');
    writeFileSync(src, `__attribute__((noinline)) int pal_off(int a) { return a + 1; }
int main(void) { return pal_off(41) == 42 ? 0 : 1; }
`);
    execFileSync('clang', ['-O1', '-g', '-o', bin, src]);
    const offset = fileOffset(bin, 'pal_off');
    expect((await addPolicy(tracingPolicy('offset-test', `  uprobes:
  - path: ${bin}
    offsets: ["0x${offset.toString(16)}"]
    args:
    - index: 0
      type: int
`))).stderr).toBe('');
    expect(spawnSync(bin).status).toBe(0);
    await agent.waitFor((e) => hookEvents(e, 'offset-test').length >= 1, 15_000, 'uprobe event by offset');
    const ev = hookEvents(agent.events(), 'offset-test')[0]!;
    expect(ev).toMatchObject({ path: bin, symbol: `0x${offset.toString(16)}`, args: [{ int_arg: 41 }], process: { binary: bin } });
    await deletePolicy('offset-test');
  });

  it('uretprobe: returnArg and matchReturnArgs post only the calls whose return value matches', async () => {
    const src = join(work, 'ret.c');
    const bin = join(work, 'pal-uretprobe-target');
    writeFileSync(src, `__attribute__((noinline)) int pal_double(int a) { return a * 2; }
int main(void) { int t = 0; for (int i = 19; i <= 23; i++) t += pal_double(i); return t == 210 ? 0 : 1; }
`);
    execFileSync('clang', ['-O1', '-g', '-o', bin, src]);
    expect((await addPolicy(tracingPolicy('uretprobe-test', `  uprobes:
  - path: ${bin}
    symbols: [pal_double]
    return: true
    args:
    - index: 0
      type: int
    returnArg:
      index: 0
      type: int
    selectors:
    - matchReturnArgs:
      - operator: Equal
        values: ["42", "46"]
`))).stderr).toBe('');
    expect(spawnSync(bin).status).toBe(0);
    await agent.waitFor((e) => hookEvents(e, 'uretprobe-test').length >= 2, 15_000, 'uretprobe events');
    await new Promise((r) => setTimeout(r, 300)); // a third (wrong) event would have arrived by now
    const got = hookEvents(agent.events(), 'uretprobe-test');
    expect(got.map((e: Ev) => [e.args, e.return])).toEqual([
      [[{ int_arg: 21 }], { int_arg: 42 }],
      [[{ int_arg: 23 }], { int_arg: 46 }],
    ]);
    expect(got[0]).toMatchObject({ path: bin, symbol: 'pal_double', process: { binary: bin } });
    await deletePolicy('uretprobe-test');
  });
});

describe('podSelector and namespaced policies', () => {
  it('apply only to the processes of the selected workloads (their cgroups, in the kernel)', async () => {
    const root = '/sys/fs/cgroup/unified';
    const name = `pal-tr-pod-${process.pid}`;
    const cg = join(root, name);
    mkdirSync(cg, { recursive: true });
    const marker = join(work, 'pod-marker');
    writeFileSync(marker, 'x');
    // cat the marker from inside the workload's cgroup, or from here
    const catIn = (): number | null => spawnSync('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec cat ${marker}`]).status;
    const catOut = (): number | null => spawnSync('cat', [marker]).status;
    try {
      expect((await runCli(['endpoint', 'label', name, 'app=scoped', '--namespace', 'shop', '--socket', agent.socket])).code).toBe(0);
      const namespaced = (pname: string, ns: string): string =>
        openPolicy(pname, equalPath(marker)).replace('kind: TracingPolicy\nmetadata:\n', `kind: TracingPolicyNamespaced\nmetadata:\n  namespace: ${ns}\n`);
      expect((await addPolicy(openPolicy('pod-scoped', equalPath(marker), '  podSelector:\n    matchLabels:\n      app: scoped\n'))).stderr).toBe('');
      expect((await addPolicy(namespaced('ns-shop', 'shop'))).stderr).toBe('');
      expect((await addPolicy(namespaced('ns-other', 'other'))).stderr).toBe('');
      expect(catOut()).toBe(0);
      expect(catIn()).toBe(0);
      await agent.waitFor((e) => hookEvents(e, 'pod-scoped').length >= 1 && hookEvents(e, 'ns-shop').length >= 1, 15_000, 'scoped events');
      await new Promise((r) => setTimeout(r, 300));
      const evs = agent.events();
      // one event each, the cat inside the cgroup; none from the cat outside, none for namespace "other"
      for (const p of ['pod-scoped', 'ns-shop']) expect(hookEvents(evs, p).map((e: Ev) => e.process.binary)).toEqual(['/usr/bin/cat']);
      expect(hookEvents(evs, 'ns-other')).toEqual([]);
      expect(hookEvents(evs, 'pod-scoped')[0].process.pid).toBe(hookEvents(evs, 'ns-shop')[0].process.pid);
      for (const p of ['pod-scoped', 'ns-shop', 'ns-other']) await deletePolicy(p);
    } finally {
      await runCli(['endpoint', 'unlabel', name, '--socket', agent.socket]);
      rmdirSync(cg);
    }
  });
});

describe('kernel object arguments', () => {
  it('fd resolves a descriptor to its file path, and Prefix filters on it', async () => {
    const dir = join(work, 'fd-dir');
    execFileSync('mkdir', ['-p', dir]);
    expect((await addPolicy(tracingPolicy('fd-test', `  tracepoints:
  - subsystem: syscalls
    event: sys_enter_write
    args:
    - {index: 5, type: fd}
    - {index: 7, type: size_t}
    selectors:
    - matchArgs:
      - {index: 5, operator: Prefix, values: ["${dir}/"]}
`))).stderr).toBe('');
    spawnSync('sh', ['-c', `printf 12345 > ${dir}/written; printf abc > ${work}/elsewhere`]);
    await agent.waitFor((e) => hookEvents(e, 'fd-test').length >= 1, 15_000, 'write event');
    await new Promise((r) => setTimeout(r, 300));
    const got = hookEvents(agent.events(), 'fd-test');
    expect(got.map((e: Ev) => e.args)).toEqual([[{ file_arg: { path: `${dir}/written` } }, { size_arg: '5' }]]);
    await deletePolicy('fd-test');
  });

  it('reads a __data_loc string of a tracepoint record (sched_process_exec filename)', async () => {
    const bin = join(work, 'pal-dataloc-true');
    copyFileSync('/usr/bin/true', bin);
    execFileSync('chmod', ['755', bin]);
    expect((await addPolicy(tracingPolicy('dataloc-test', `  tracepoints:
  - subsystem: sched
    event: sched_process_exec
    args:
    - {index: 4, type: string}
    - {index: 5, type: int}
    selectors:
    - matchArgs:
      - {index: 4, operator: Equal, values: ["${bin}"]}
`))).stderr).toBe('');
    const child = spawnSync(bin);
    expect(child.status).toBe(0);
    await agent.waitFor((e) => hookEvents(e, 'dataloc-test').length >= 1, 15_000, 'exec event');
    expect(hookEvents(agent.events(), 'dataloc-test').map((e: Ev) => e.args)).toEqual([[{ string_arg: bin }, { int_arg: child.pid }]]);
    await deletePolicy('dataloc-test');
  });

  it('sock decodes a kernel struct sock (raw tracepoint inet_sock_set_state) and DPort filters on it', async () => {
    const server = createServer((c) => c.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      expect((await addPolicy(tracingPolicy('sock-test', `  tracepoints:
  - subsystem: sock
    event: inet_sock_set_state
    raw: true
    args:
    - {index: 0, type: sock}
    - {index: 2, type: int}
    selectors:
    - matchArgs:
      - {index: 0, operator: DPort, values: ["${port}"]}
      - {index: 2, operator: Equal, values: ["1"]}
`))).stderr).toBe('');
      // async: the server lives in this process and must answer while the client runs
      await new Promise((r) => spawn('node', ['-e', `require('net').connect(${port}, '127.0.0.1').on('connect', function () { this.destroy(); })`]).on('exit', r));
      await agent.waitFor((e) => hookEvents(e, 'sock-test').length >= 1, 15_000, 'sock event');
      // the server's side of the same connection reaches ESTABLISHED too, with the client's port as
      // its dport: DPort filtered it out in the kernel
      await new Promise((r) => setTimeout(r, 300));
      expect(hookEvents(agent.events(), 'sock-test')).toHaveLength(1);
      const ev = hookEvents(agent.events(), 'sock-test')[0]!;
      expect(ev.args[0].sock_arg).toMatchObject({
        family: 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: '127.0.0.1', daddr: '127.0.0.1', dport: port,
      });
      expect(ev.args[1]).toEqual({ int_arg: 1 }); // TCP_ESTABLISHED
      await deletePolicy('sock-test');
    } finally {
      server.close();
    }
  });
});

describe('policies this kernel cannot run, and bad policies', () => {
  it('rejects a kprobe and an LSM policy naming the missing feature; other policies keep working', async () => {
    const marker = join(work, 'keep-marker');
    writeFileSync(marker, '');
    expect((await addPolicy(openPolicy('keeps-working', equalPath(marker)))).stderr).toBe('');
    const kprobe = await addPolicy(tracingPolicy('kp', `  kprobes:
  - call: security_file_permission
    syscall: false
    args:
    - index: 1
      type: int
`));
    expect(kprobe.code).not.toBe(0);
    expect(kprobe.stderr).toContain(`${kprobe.file}:7:5 spec.kprobes[0]: needs kprobes or their fentry fallback, and this kernel has neither: kprobe: this kernel has no kprobe support (CONFIG_KPROBES unset)`);
    const lsm = await addPolicy(tracingPolicy('lsm', `  lsmhooks:
  - hook: file_open
    args:
    - index: 0
      type: int
`));
    expect(lsm.code).not.toBe(0);
    expect(lsm.stderr).toContain(`${lsm.file}:7:5 spec.lsmhooks[0]: needs BPF LSM programs, which this kernel refuses: loading a minimal program against bpf_lsm_file_open failed: EPERM`);
    const missing = await addPolicy(openPolicy('missing-tp', '').replace('sys_enter_openat', 'sys_enter_nosuchcall').replace('    selectors:\n', ''));
    expect(missing.stderr).toContain(`${missing.file}:8:5 spec.tracepoints[0].event: the kernel has no tracepoint syscalls/sys_enter_nosuchcall`);
    const badIndex = await addPolicy(openPolicy('bad-index', '').replace('index: 7', 'index: 20').replace('    selectors:\n', ''));
    expect(badIndex.stderr).toContain('spec.tracepoints[0].args[2].index: syscalls/sys_enter_openat has 9 fields');

    const names = (JSON.parse((await runCli(['policy', 'list', '-o', 'json', '--socket', agent.socket])).stdout) as Ev[]).map((p) => p.name);
    expect(names).toContain('keeps-working');
    expect(names).not.toContain('kp');
    expect(names).not.toContain('lsm');
    openWith('/usr/bin/dash', [marker]);
    await agent.waitFor((e) => hookEvents(e, 'keeps-working').length >= 1, 15_000, 'event of the surviving policy');
    await deletePolicy('keeps-working');
  });

  it('disable detaches and enable re-attaches without reloading', async () => {
    const marker = join(work, 'toggle-marker');
    writeFileSync(marker, '');
    expect((await addPolicy(openPolicy('toggle', equalPath(marker)))).stderr).toBe('');
    expect((await runCli(['policy', 'disable', 'toggle', '--socket', agent.socket])).stdout).toContain('disabled toggle');
    openWith('/usr/bin/dash', [marker]);
    expect((await runCli(['policy', 'enable', 'toggle', '--socket', agent.socket])).stdout).toContain('enabled toggle');
    openWith('/usr/bin/dash', [marker, marker]);
    await agent.waitFor((e) => hookEvents(e, 'toggle').length >= 2, 15_000, 'toggle events');
    await new Promise((res) => setTimeout(res, 300));
    expect(hookEvents(agent.events(), 'toggle')).toHaveLength(2);
    const gone = await runCli(['policy', 'delete', 'nope', '--socket', agent.socket]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('no policy named "nope" is loaded');
    await deletePolicy('toggle');
  });
});
