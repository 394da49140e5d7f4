import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPolicyError, LIMITS, parsePolicies, type Selector, type TracingPolicy } from '../../tracing/policy/index.js';

const FIXTURES = 'test/fixtures/policies';
const fixture = (kind: 'valid' | 'invalid', name: string) => parsePolicies(readFileSync(join(FIXTURES, kind, name), 'utf8'), name);
const messages = (text: string, file = 'p.yaml') => parsePolicies(text, file).errors.map(formatPolicyError);

/** Lines 1-5; the body starts at line 6. */
const HEAD = 'apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: t\nspec:\n';
/** A kprobe on fd_install(int, file); its selectors' items start at line 15. */
const FD = `${HEAD}  kprobes:
  - call: fd_install
    syscall: false
    args:
    - index: 0
      type: int
    - index: 1
      type: file
    selectors:
`;
/** A kprobe on tcp_connect(sock); its selectors' items start at line 13. */
const SOCK = `${HEAD}  kprobes:
  - call: tcp_connect
    syscall: false
    args:
    - index: 0
      type: sock
    selectors:
`;

const emptySelector = (over: Partial<Selector>): Selector => ({
  matchArgs: [], matchReturnArgs: [], matchPIDs: [], matchBinaries: [], matchNamespaces: [], matchNamespaceChanges: [],
  matchCapabilities: [], matchCapabilityChanges: [], matchActions: [], matchReturnActions: [], ...over,
});

describe('valid policies (Tetragon examples) parse to the model', () => {
  it('every file in fixtures/valid parses without errors', () => {
    for (const f of readdirSync(join(FIXTURES, 'valid'))) {
      const r = fixture('valid', f);
      expect(r.errors.map(formatPolicyError), f).toEqual([]);
      expect(r.policies.length, f).toBeGreaterThan(0);
    }
  });

  it('fd_install: args, Equal on a file, binaries and namespaces', () => {
    const { policies } = fixture('valid', 'fd-install.yaml');
    // where the fields start, for errors found after parsing (the compiler's)
    expect(policies[0]!.source.positions?.get('spec.kprobes[0].args[1]')).toEqual({ line: 13, column: 7 });
    expect(policies.map((p) => ({ ...p, source: { file: p.source.file, line: p.source.line } }))).toEqual<TracingPolicy[]>([
      {
        kind: 'TracingPolicy',
        metadata: { name: 'fd-install', labels: {}, annotations: {} },
        source: { file: 'fd-install.yaml', line: 2 },
        spec: {
          kprobes: [
            {
              hook: 'kprobe', call: 'fd_install', syscall: false, return: false, ignoreCallNotFound: false, tags: [],
              args: [
                { index: 0, type: 'int', returnCopy: false, maxData: false },
                { index: 1, type: 'file', returnCopy: false, maxData: false },
              ],
              selectors: [
                emptySelector({
                  matchArgs: [
                    { index: 1, operator: 'Equal', values: ['/etc/passwd', '/etc/shadow'], parsed: { kind: 'strings', values: ['/etc/passwd', '/etc/shadow'] } },
                  ],
                }),
                emptySelector({
                  matchBinaries: [{ operator: 'In', values: ['/bin/cat', '/usr/bin/cat'], followChildren: false }],
                  matchArgs: [{ index: 1, operator: 'Equal', values: ['/etc/shadow'], parsed: { kind: 'strings', values: ['/etc/shadow'] } }],
                  matchNamespaces: [
                    { namespace: 'Mnt', operator: 'In', values: ['host_ns'] },
                    { namespace: 'Pid', operator: 'NotIn', values: [4026531836] },
                  ],
                }),
              ],
            },
          ],
          tracepoints: [], uprobes: [], lsmhooks: [], lists: [], options: [], mode: 'enforce',
        },
      },
    ]);
  });

  it('file monitoring: kprobes with Prefix/Postfix and a syscall tracepoint, two documents', () => {
    const { policies } = fixture('valid', 'file-monitoring.yaml');
    expect(policies.map((p) => p.metadata.name)).toEqual(['file-monitoring', 'openat-etc']);
    const [fm, tp] = policies as [TracingPolicy, TracingPolicy];
    expect(fm.metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'palisade' });
    const perm = fm.spec.kprobes[0]!;
    expect(perm).toMatchObject({ call: 'security_file_permission', syscall: false, return: true, message: 'Sensitive file accessed', tags: ['observability.filesystem'] });
    expect(perm.returnArg).toEqual({ index: 0, type: 'int', returnCopy: false, maxData: false });
    expect(perm.selectors[0]!.matchArgs).toEqual([
      { index: 0, operator: 'Prefix', values: ['/etc/', '/boot', '/root/.ssh'], parsed: { kind: 'strings', values: ['/etc/', '/boot', '/root/.ssh'] } },
      { index: 1, operator: 'Equal', values: ['2'], parsed: { kind: 'ints', values: [2n] } },
    ]);
    expect(fm.spec.kprobes[1]!.selectors[0]!.matchArgs[0]).toMatchObject({ operator: 'Postfix', values: ['/authorized_keys'] });
    expect(tp.spec.tracepoints).toEqual([
      {
        hook: 'tracepoint', subsystem: 'syscalls', event: 'sys_enter_openat', raw: false, tags: [],
        args: [
          { index: 6, type: 'string', returnCopy: false, maxData: false },
          { index: 7, type: 'int', returnCopy: false, maxData: false },
        ],
        selectors: [
          emptySelector({
            matchArgs: [
              { index: 6, operator: 'Prefix', values: ['/etc/'], parsed: { kind: 'strings', values: ['/etc/'] } },
              { index: 7, operator: 'Mask', values: ['0x241'], parsed: { kind: 'ints', values: [0x241n] } },
            ],
          }),
        ],
      },
    ]);
  });

  it('tcp_connect: socket operators, CIDRs, port ranges, names, rate limit', () => {
    const sel = fixture('valid', 'tcp-connect.yaml').policies[0]!.spec.kprobes[0]!.selectors[0]!;
    expect(sel.matchArgs.map((a) => [a.operator, a.parsed])).toEqual([
      ['NotDAddr', { kind: 'cidrs', values: [
        { family: 4, address: '127.0.0.0', prefixLen: 8 },
        { family: 6, address: '::1', prefixLen: 128 },
        { family: 4, address: '10.0.0.0', prefixLen: 8 },
      ] }],
      ['DPort', { kind: 'ranges', values: [[22n, 22n], [8000n, 8999n]], lists: [] }],
      ['Family', { kind: 'ranges', values: [[2n, 2n], [10n, 10n]], lists: [] }],
      ['Protocol', { kind: 'ranges', values: [[6n, 6n]], lists: [] }],
      ['NotSPortPriv', { kind: 'none' }], // CRD spelling NotSportPriv, normalized
    ]);
    expect(sel.matchBinaries).toEqual([{ operator: 'NotIn', values: ['/usr/bin/apt'], followChildren: true }]);
    expect(sel.matchActions).toEqual([{ action: 'Post', rateLimit: { text: '1m', ms: 60_000, scope: 'process' } }]);
  });

  it('Sigkill and Signal on sys_write / sys_symlinkat, with matchPIDs', () => {
    const [write, symlink] = fixture('valid', 'sigkill-write.yaml').policies[0]!.spec.kprobes;
    expect(write!.args[1]).toEqual({ index: 1, type: 'char_buf', sizeArgIndex: 3, returnCopy: false, maxData: false });
    expect(write!.selectors[0]).toEqual(
      emptySelector({
        matchPIDs: [{ operator: 'NotIn', followForks: true, isNamespacePID: true, values: [0, 1] }],
        matchArgs: [{ index: 0, operator: 'Prefix', values: ['/etc/passwd'], parsed: { kind: 'strings', values: ['/etc/passwd'] } }],
        matchActions: [{ action: 'Sigkill' }],
      }),
    );
    expect(symlink!.selectors[0]!.matchActions).toEqual([{ action: 'Signal', argSig: 9 }, { action: 'NoPost' }]);
  });

  it('lsm file_open with Override, capabilities and monitor mode', () => {
    const p = fixture('valid', 'lsm-file-open.yaml').policies[0]!;
    expect(p.spec.mode).toBe('monitor');
    expect(p.spec.options).toEqual([{ name: 'policy-mode', value: 'monitor' }]);
    expect(p.spec.lsmhooks[0]).toMatchObject({ hook: 'lsmhook', lsmHook: 'file_open', message: 'shadow opened' });
    const sel = p.spec.lsmhooks[0]!.selectors[0]!;
    expect(sel.matchBinaries).toEqual([{ operator: 'Postfix', values: ['/cat'], followChildren: false }]);
    expect(sel.matchCapabilities).toEqual([{ type: 'Effective', operator: 'NotIn', isNamespaceCapability: false, values: ['CAP_SYS_ADMIN'] }]);
    expect(sel.matchActions).toEqual([{ action: 'Override', argError: -1 }]);
  });

  it('uprobe with a return argument filter', () => {
    const u = fixture('valid', 'uprobe-readline.yaml').policies[0]!.spec.uprobes[0]!;
    expect(u).toMatchObject({ hook: 'uprobe', path: '/bin/bash', symbols: ['readline'], return: true });
    expect(u.returnArg).toEqual({ index: 0, type: 'string', returnCopy: false, maxData: false });
    expect(u.selectors[0]!.matchReturnArgs).toEqual([{ index: 0, operator: 'Prefix', values: ['sudo '], parsed: { kind: 'strings', values: ['sudo '] } }]);
  });

  it('namespaced policy: macros expand, lists resolve, pod selector', () => {
    const p = fixture('valid', 'namespaced-macros.yaml').policies[0]!;
    expect(p.kind).toBe('TracingPolicyNamespaced');
    expect(p.metadata.namespace).toBe('payments');
    expect(p.spec.podSelector).toEqual({ matchLabels: { app: 'checkout' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] });
    expect(p.spec.lists).toEqual([{ name: 'dups', type: 'syscalls', values: ['sys_dup', 'sys_dup2', 'sys_dup3'] }]);
    const tsel = p.spec.tracepoints[0]!.selectors[0]!;
    expect(tsel.matchBinaries).toEqual([{ operator: 'In', values: ['/bin/sh', '/bin/bash'], followChildren: false }]);
    expect(tsel.matchActions).toEqual([{ action: 'Sigkill' }]);
    expect(tsel.matchArgs).toEqual([{ index: 4, operator: 'InMap', values: ['list:dups'], parsed: { kind: 'ranges', values: [], lists: ['dups'] } }]);
    expect(p.spec.kprobes[0]!.call).toBe('list:dups');
    expect(p.spec.kprobes[0]!.selectors[0]!.matchNamespaceChanges).toEqual([{ operator: 'In', values: ['Mnt', 'Net'] }]);
  });

  it('numbers keep Tetragon meaning: hex, octal, 64-bit', () => {
    const text = `${HEAD}  kprobes:
  - call: sys_openat
    args:
    - index: 2
      type: uint64
    selectors:
    - matchArgs:
      - index: 2
        operator: Mask
        values: [0x10, "0755", 18446744073709551615]
`;
    const r = parsePolicies(text, 'n.yaml');
    expect(r.errors).toEqual([]);
    expect(r.policies[0]!.spec.kprobes[0]!.selectors[0]!.matchArgs[0]!.parsed).toEqual({ kind: 'ints', values: [16n, 0o755n, 18446744073709551615n] });
  });
});

describe('invalid policies: every error names file:line:col and the field', () => {
  it.each<[string, string, string]>([
    [
      'a misspelt operator',
      `${FD}    - matchArgs:\n      - index: 1\n        operator: Prefx\n        values: ["/etc"]\n`,
      'p.yaml:17:19 spec.kprobes[0].selectors[0].matchArgs[0].operator: unknown operator "Prefx" (did you mean "Prefix"?)',
    ],
    [
      'an operator in the wrong case',
      `${FD}    - matchArgs:\n      - index: 0\n        operator: lt\n        values: ["3"]\n`,
      'p.yaml:17:19 spec.kprobes[0].selectors[0].matchArgs[0].operator: unknown operator "lt" (did you mean "LT"?)',
    ],
    [
      'an unknown field in a hook',
      `${HEAD}  kprobes:\n  - call: fd_install\n    selector: []\n`,
      'p.yaml:8:5 spec.kprobes[0].selector: unknown field (did you mean "selectors"?)',
    ],
    [
      'an unknown field in matchArgs',
      `${FD}    - matchArgs:\n      - index: 1\n        operator: Equal\n        value: ["/etc/passwd"]\n`,
      'p.yaml:18:9 spec.kprobes[0].selectors[0].matchArgs[0].value: unknown field (did you mean "values"?)',
    ],
    [
      'a missing call',
      `${HEAD}  kprobes:\n  - syscall: false\n`,
      'p.yaml:7:5 spec.kprobes[0].call: required field is missing',
    ],
    [
      'a wrong apiVersion',
      HEAD.replace('v1alpha1', 'v1') + '  tracepoints:\n  - {subsystem: sched, event: sched_process_exec}\n',
      'p.yaml:1:13 apiVersion: expected cilium.io/v1alpha1, got "cilium.io/v1"',
    ],
    [
      'a misspelt kind',
      HEAD.replace('kind: TracingPolicy', 'kind: TracingPolicyNamespace') + '  tracepoints:\n  - {subsystem: sched, event: sched_process_exec}\n',
      'p.yaml:2:7 kind: unknown kind "TracingPolicyNamespace" (did you mean "TracingPolicyNamespaced"?)',
    ],
    [
      'a namespace on a cluster-wide policy',
      HEAD.replace('  name: t\n', '  name: t\n  namespace: prod\n') + '  tracepoints:\n  - {subsystem: sched, event: sched_process_exec}\n',
      'p.yaml:5:3 metadata.namespace: a TracingPolicy applies to the whole cluster and has no namespace; use kind TracingPolicyNamespaced to limit it to one',
    ],
    [
      'a misspelt argument type',
      `${HEAD}  kprobes:\n  - call: sys_openat\n    args:\n    - index: 1\n      type: strng\n`,
      'p.yaml:10:13 spec.kprobes[0].args[0].type: unknown argument type "strng" (did you mean "string"?)',
    ],
    [
      'a filter on an undeclared argument',
      `${FD}    - matchArgs:\n      - index: 3\n        operator: Equal\n        values: ["1"]\n`,
      'p.yaml:16:16 spec.kprobes[0].selectors[0].matchArgs[0].index: argument index 3 is not declared in args (declared: 0, 1)',
    ],
    [
      'Prefix on an int argument',
      `${FD}    - matchArgs:\n      - index: 0\n        operator: Prefix\n        values: ["1"]\n`,
      'p.yaml:17:19 spec.kprobes[0].selectors[0].matchArgs[0].operator: operator Prefix does not apply to argument 0 of type int (it takes Equal, NotEqual, GT, LT, Mask, InRange, NotInRange, InMap, NotInMap)',
    ],
    [
      'a word where an int argument needs a number',
      `${FD}    - matchArgs:\n      - index: 0\n        operator: Equal\n        values: ["3", "three"]\n`,
      'p.yaml:18:23 spec.kprobes[0].selectors[0].matchArgs[0].values[1]: "three" is not a whole number',
    ],
    [
      'a number out of the range of the type',
      `${HEAD}  tracepoints:\n  - subsystem: net\n    event: netif_receive_skb\n    args:\n    - index: 5\n      type: uint8\n    selectors:\n    - matchArgs:\n      - index: 5\n        operator: GT\n        values: ["300"]\n`,
      'p.yaml:16:18 spec.tracepoints[0].selectors[0].matchArgs[0].values[0]: "300" is out of range for uint8 (0 to 255)',
    ],
    [
      'a bad CIDR',
      `${SOCK}    - matchArgs:\n      - index: 0\n        operator: DAddr\n        values: ["10.0.0.0/8", "10.0.0.0/33"]\n`,
      'p.yaml:16:32 spec.kprobes[0].selectors[0].matchArgs[0].values[1]: "10.0.0.0/33" has a bad prefix length (0 to 32)',
    ],
    [
      'a port out of range',
      `${SOCK}    - matchArgs:\n      - index: 0\n        operator: DPort\n        values: ["70000"]\n`,
      'p.yaml:16:18 spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "70000" is not a port number (0 to 65535)',
    ],
    [
      'a reversed port range',
      `${SOCK}    - matchArgs:\n      - index: 0\n        operator: SPort\n        values: ["9000:80"]\n`,
      'p.yaml:16:18 spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "9000:80" is a reversed range: write 80:9000',
    ],
    [
      'InRange without a range',
      `${FD}    - matchArgs:\n      - index: 0\n        operator: InRange\n        values: ["5"]\n`,
      'p.yaml:18:18 spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "5" is not a range: write min:max, e.g. 100:200',
    ],
    [
      'a socket operator on a file',
      `${FD}    - matchArgs:\n      - index: 1\n        operator: DPort\n        values: ["80"]\n`,
      'p.yaml:17:19 spec.kprobes[0].selectors[0].matchArgs[0].operator: operator DPort does not apply to argument 1 of type file (it takes Equal, NotEqual, Prefix, NotPrefix, Postfix, NotPostfix, FileType, NotFileType)',
    ],
    [
      'too many PIDs (Tetragon silently keeps 4)',
      `${FD}    - matchPIDs:\n      - operator: In\n        values: [${Array.from({ length: 40 }, (_, i) => i + 1).join(', ')}]\n`,
      'p.yaml:17:17 spec.kprobes[0].selectors[0].matchPIDs[0].values: 40 values, the limit is 32',
    ],
    [
      'too many selectors',
      `${FD}${'    - matchPIDs: [{operator: In, values: [1]}]\n'.repeat(6)}`,
      'p.yaml:15:5 spec.kprobes[0].selectors: 6 selectors, the limit is 5',
    ],
    [
      'too many inline numeric values',
      `${FD}    - matchArgs:\n      - index: 0\n        operator: Equal\n        values: ["1", "2", "3", "4", "5"]\n`,
      'p.yaml:18:17 spec.kprobes[0].selectors[0].matchArgs[0].values: 5 values, the limit is 4',
    ],
    [
      'Signal without a signal',
      `${FD}    - matchActions:\n      - action: Signal\n`,
      'p.yaml:16:9 spec.kprobes[0].selectors[0].matchActions[0].argSig: required field is missing',
    ],
    [
      'a signal number out of range',
      `${FD}    - matchActions:\n      - action: Signal\n        argSig: 65\n`,
      'p.yaml:17:17 spec.kprobes[0].selectors[0].matchActions[0].argSig: expected a whole number from 1 to 64, got 65',
    ],
    [
      'Override with a positive error',
      `${FD}    - matchActions:\n      - action: Override\n        argError: 1\n`,
      'p.yaml:17:19 spec.kprobes[0].selectors[0].matchActions[0].argError: expected a whole number from -4095 to -1, got 1',
    ],
    [
      'Override on a tracepoint',
      `${HEAD}  tracepoints:\n  - subsystem: syscalls\n    event: sys_enter_unlinkat\n    selectors:\n    - matchActions:\n      - action: Override\n        argError: -1\n`,
      'p.yaml:11:17 spec.tracepoints[0].selectors[0].matchActions[0].action: Override needs a kprobe or an lsmhook: a tracepoint cannot change the result of the call (Sigkill and Signal act when the call returns to user space)',
    ],
    [
      'a rate limit that is not a duration',
      `${FD}    - matchActions:\n      - action: Post\n        rateLimit: 5x\n`,
      'p.yaml:17:20 spec.kprobes[0].selectors[0].matchActions[0].rateLimit: "5x" is not a duration: write seconds (30 or 30s), minutes (5m) or hours (1h)',
    ],
    [
      'a rate limit on an action other than Post',
      `${FD}    - matchActions:\n      - action: Sigkill\n        rateLimit: 1m\n`,
      'p.yaml:17:9 spec.kprobes[0].selectors[0].matchActions[0].rateLimit: does not apply to action Sigkill (it belongs to Post)',
    ],
    [
      'rateLimitScope without rateLimit',
      `${FD}    - matchActions:\n      - action: Post\n        rateLimitScope: global\n`,
      'p.yaml:17:9 spec.kprobes[0].selectors[0].matchActions[0].rateLimitScope: has no effect without rateLimit',
    ],
    [
      'FollowFD (parsed, not supported)',
      `${FD}    - matchActions:\n      - action: FollowFD\n        argFd: 0\n        argName: 1\n`,
      'p.yaml:16:17 spec.kprobes[0].selectors[0].matchActions[0].action: action FollowFD is not supported by Palisade: deprecated by Tetragon (removed in 1.5) and not implemented: declare the argument as type "fd" or "file", which resolve the path in the kernel',
    ],
    [
      'GetUrl (parsed, not supported)',
      `${FD}    - matchActions:\n      - action: GetUrl\n        argUrl: http://canary.example\n`,
      'p.yaml:16:17 spec.kprobes[0].selectors[0].matchActions[0].action: action GetUrl is not supported by Palisade: the agent makes no network requests on a match; send the event to an exporter instead',
    ],
    [
      'matchReturnArgs without return',
      `${FD}    - matchReturnArgs:\n      - operator: Equal\n        values: ["0"]\n`,
      'p.yaml:15:7 spec.kprobes[0].selectors[0].matchReturnArgs: needs return: true and a returnArg on the hook',
    ],
    [
      'return: true without returnArg',
      `${HEAD}  kprobes:\n  - call: sys_openat\n    return: true\n`,
      'p.yaml:8:5 spec.kprobes[0].returnArg: required when return is true',
    ],
    [
      'a string value past the limit',
      `${FD}    - matchArgs:\n      - index: 1\n        operator: Equal\n        values: ["/${'a'.repeat(300)}"]\n`,
      `p.yaml:18:18 spec.kprobes[0].selectors[0].matchArgs[0].values[0]: value is 301 bytes, the limit is ${LIMITS.stringValueBytes}`,
    ],
    [
      'a relative binary path',
      `${FD}    - matchBinaries:\n      - operator: In\n        values: ["cat"]\n`,
      'p.yaml:17:18 spec.kprobes[0].selectors[0].matchBinaries[0].values[0]: "cat" is not an absolute path: matchBinaries compares the full path of the executable (e.g. /usr/bin/cat)',
    ],
    [
      'a misspelt capability',
      `${FD}    - matchCapabilities:\n      - operator: In\n        values: ["CAP_SYS_ADMN"]\n`,
      'p.yaml:17:18 spec.kprobes[0].selectors[0].matchCapabilities[0].values[0]: unknown capability "CAP_SYS_ADMN" (did you mean "CAP_SYS_ADMIN"?)',
    ],
    [
      'a namespace value that is not an inode',
      `${FD}    - matchNamespaces:\n      - namespace: Net\n        operator: In\n        values: ["host"]\n`,
      'p.yaml:18:18 spec.kprobes[0].selectors[0].matchNamespaces[0].values[0]: "host" is not a namespace inode number or host_ns',
    ],
    [
      'USDT probes',
      `${HEAD}  usdts:\n  - path: /usr/bin/python3\n`,
      'p.yaml:6:3 spec.usdts: not supported by Palisade: USDT probes are not implemented',
    ],
    [
      'a misspelt policy mode',
      `${HEAD}  options:\n  - name: policy-mode\n    value: enforcing\n  tracepoints:\n  - {subsystem: sched, event: sched_process_exec}\n`,
      'p.yaml:8:12 spec.options[0].value: unknown policy mode "enforcing": expected one of enforce, monitor',
    ],
    [
      'a privileged-port operator given values',
      `${SOCK}    - matchArgs:\n      - index: 0\n        operator: SPortPriv\n        values: ["22"]\n`,
      'p.yaml:16:17 spec.kprobes[0].selectors[0].matchArgs[0].values: SPortPriv takes no values: it matches the privileged ports 0-1023',
    ],
    [
      'sizeArgIndex on an int',
      `${HEAD}  kprobes:\n  - call: sys_read\n    args:\n    - index: 0\n      type: int\n      sizeArgIndex: 3\n`,
      'p.yaml:11:7 spec.kprobes[0].args[0].sizeArgIndex: applies to char_buf and char_iovec arguments only, not int',
    ],
    [
      'char_buf without a size',
      `${HEAD}  kprobes:\n  - call: sys_write\n    args:\n    - index: 1\n      type: char_buf\n`,
      'p.yaml:10:7 spec.kprobes[0].args[0].type: a char_buf needs sizeArgIndex (or returnCopy: true) to know how many bytes to read',
    ],
    [
      'an unknown top-level field',
      `${HEAD.replace('spec:', 'specs:')}  tracepoints: []\n`,
      'p.yaml:5:1 specs: unknown field (did you mean "spec"?)',
    ],
    [
      'an undefined list',
      `${HEAD}  kprobes:\n  - call: "list:syscals"\n`,
      'p.yaml:7:11 spec.kprobes[0].call: list "syscals" is not defined in spec.lists',
    ],
    [
      'an undefined macro',
      `${HEAD}  selectorsMacros:\n    shells:\n      matchBinaries: [{operator: In, values: [/bin/sh]}]\n  kprobes:\n  - call: sys_execve\n    selectors:\n    - macros: [shell]\n`,
      'p.yaml:12:16 spec.kprobes[0].selectors[0].macros[0]: macro "shell" is not defined (did you mean "shells"?)',
    ],
    [
      'a filter set both in the selector and in its macro',
      `${HEAD}  selectorsMacros:\n    shells:\n      matchBinaries: [{operator: In, values: [/bin/sh]}]\n  kprobes:\n  - call: sys_execve\n    selectors:\n    - macros: [shells]\n      matchBinaries: [{operator: In, values: [/bin/dash]}]\n`,
      'p.yaml:12:16 spec.kprobes[0].selectors[0].macros[0]: macro "shells" sets matchBinaries, which the selector already sets: each filter list may come from one place only',
    ],
    [
      'invalid YAML',
      `${HEAD}  kprobes: [\n`,
      'p.yaml:7:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
  ])('%s', (_name, text, expected) => {
    expect(messages(text)).toEqual([expected]);
  });

  it('names each Tetragon feature Palisade does not implement, never ignoring it', () => {
    expect(fixture('invalid', 'tetragon-unsupported.yaml').errors.map(formatPolicyError)).toEqual([
      'tetragon-unsupported.yaml:7:3 spec.loader: not supported by Palisade: loader events are not implemented',
      'tetragon-unsupported.yaml:12:13 spec.kprobes[0].args[0].type: not supported by Palisade: type "auto" needs BTF resolution of the function prototype; name the type (int, string, file, …)',
      'tetragon-unsupported.yaml:15:7 spec.kprobes[0].args[1].resolve: not supported by Palisade: resolving struct fields through BTF is not implemented',
      'tetragon-unsupported.yaml:17:7 spec.kprobes[0].selectors[0].matchParentBinaries: not supported by Palisade: parent binary filters are not implemented; use matchBinaries with followChildren',
      'tetragon-unsupported.yaml:21:17 spec.kprobes[0].selectors[0].matchActions[0].action: action CopyFD is not supported by Palisade: deprecated by Tetragon (removed in 1.5) and not implemented: declare the argument as type "fd" or "file", which resolve the path in the kernel',
      'tetragon-unsupported.yaml:25:9 spec.kprobes[0].selectors[0].matchActions[1].kernelStackTrace: not supported by Palisade: stack traces are not implemented',
    ]);
  });

  it.each<[string, string, string[]]>([
    [
      'InMap values are decimal and lists must exist',
      `${FD}    - matchArgs:\n      - {index: 0, operator: InMap, values: ["0x10", "1:5", "list:nope"]}\n`,
      [
        'p.yaml:16:46 spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "0x10" is not a decimal number (InMap values are decimal)',
        'p.yaml:16:61 spec.kprobes[0].selectors[0].matchArgs[0].values[2]: list "nope" is not defined in spec.lists',
      ],
    ],
    [
      'a namespaced policy cannot select hosts; containers go by name',
      'apiVersion: cilium.io/v1alpha1\nkind: TracingPolicyNamespaced\nmetadata:\n  name: t\n  namespace: web\nspec:\n  hostSelector: {}\n  containerSelector:\n    matchLabels: {image: nginx}\n  tracepoints: [{subsystem: sched, event: sched_process_exec}]\n',
      [
        'p.yaml:7:3 spec.hostSelector: a TracingPolicyNamespaced applies to pods of its namespace only and cannot select hosts',
        'p.yaml:9:19 spec.containerSelector.matchLabels.image: containers are selected by name only: "image" is not a container field',
      ],
    ],
    [
      'message and tags past their limits',
      `${HEAD}  tracepoints:\n  - subsystem: sched\n    event: sched_process_exec\n    message: "${'x'.repeat(300)}"\n    tags: [${Array.from({ length: 17 }, (_, i) => `t${i}`).join(', ')}]\n`,
      [
        'p.yaml:9:14 spec.tracepoints[0].message: 300 characters, the limit is 256',
        'p.yaml:10:11 spec.tracepoints[0].tags: 17 tags, the limit is 16',
      ],
    ],
    [
      'contradicting and misplaced action fields, rate limits out of range',
      `${FD}    - matchActions: [{action: Post}, {action: NoPost}]\n    - matchActions: [{action: Sigkill, argSig: 9}]\n    - matchActions: [{action: Post, rateLimit: "0"}, {action: Post, rateLimit: 99999h}]\n`,
      [
        'p.yaml:15:38 spec.kprobes[0].selectors[0].matchActions[1].action: NoPost contradicts Post in the same selector',
        'p.yaml:16:40 spec.kprobes[0].selectors[1].matchActions[0].argSig: does not apply to action Sigkill (it belongs to Signal)',
        'p.yaml:17:48 spec.kprobes[0].selectors[2].matchActions[0].rateLimit: must be at least 1 second',
        'p.yaml:17:80 spec.kprobes[0].selectors[2].matchActions[1].rateLimit: 99999h is 359996400 seconds, the limit is 4294967',
      ],
    ],
    [
      'argument declarations',
      `${HEAD}  kprobes:\n  - call: sys_read\n    returnArg: {index: 0, type: int}\n    args: [{index: 0, type: int}, {index: 0, type: string}, {index: 9, type: int}]\n  lsmhooks:\n  - hook: security_file_open\n    args: [{index: 0, type: file, returnCopy: true}]\n`,
      [
        'p.yaml:8:5 spec.kprobes[0].returnArg: is read only with return: true',
        'p.yaml:9:43 spec.kprobes[0].args[1].index: index 0 is already declared by args[0]',
        'p.yaml:9:69 spec.kprobes[0].args[2].index: expected a whole number from 0 to 5, got 9',
        'p.yaml:11:11 spec.lsmhooks[0].hook: name the LSM hook without the security_ prefix: file_open',
        'p.yaml:12:35 spec.lsmhooks[0].args[0].returnCopy: applies to char_buf and char_iovec arguments only, not file',
      ],
    ],
    [
      'uprobe offsets',
      `${HEAD}  uprobes:\n  - path: /bin/true\n    offsets: [0x1140, "0x1150", -3, main]\n`,
      [
        'p.yaml:8:33 spec.uprobes[0].offsets[2]: expected a file offset (a number or "0x…"), got -3',
        'p.yaml:8:37 spec.uprobes[0].offsets[3]: expected a file offset (a number or "0x…"), got "main"',
      ],
    ],
    [
      'uprobe path and symbols, options',
      `${HEAD}  uprobes:\n  - path: bash\n    symbols: []\n  options:\n  - {name: policy-mod, value: monitor}\n  - {name: disable-kprobe-multi, value: "yes"}\n`,
      [
        'p.yaml:7:11 spec.uprobes[0].path: "bash" is not an absolute path',
        'p.yaml:8:14 spec.uprobes[0].symbols: needs at least one symbol (or file offset in offsets)',
        'p.yaml:10:12 spec.options[0].name: unknown option "policy-mod" (did you mean "policy-mode"?)',
        'p.yaml:11:41 spec.options[1].value: expected a boolean (true, false, 1 or 0), got "yes"',
      ],
    ],
  ])('%s', (_name, text, expected) => {
    expect(messages(text)).toEqual(expected);
  });

  it('checks a macro against the hook that uses it and says where', () => {
    const text = `${HEAD}  selectorsMacros:
    etc:
      matchArgs: [{index: 1, operator: Prefix, values: [/etc]}]
  kprobes:
  - call: sys_read
    args: [{index: 0, type: int}]
    selectors:
    - macros: [etc]
`;
    expect(messages(text)).toEqual([
      'p.yaml:8:27 spec.selectorsMacros.etc.matchArgs[0].index: argument index 1 is not declared in args (declared: 0) (macro "etc" used by spec.kprobes[0].selectors[0])',
    ]);
  });

  it('names a policy already defined in the same file', () => {
    const doc = `${HEAD}  tracepoints:\n  - {subsystem: sched, event: sched_process_exec}\n`;
    expect(messages(`${doc}---\n${doc}`)).toEqual(['p.yaml:12:9 metadata.name: "t" is already the name of the policy at line 1']);
  });

  it('reports an empty file', () => {
    expect(messages('# nothing here\n')).toEqual(['p.yaml:1:1: no TracingPolicy in the file']);
  });

  it('reports every error of a file, in order, and keeps the valid documents', () => {
    const r = fixture('invalid', 'many-errors.yaml');
    expect(r.errors.map(formatPolicyError)).toEqual([
      'many-errors.yaml:8:3 spec.kprobe: unknown field (did you mean "kprobes"?)',
      'many-errors.yaml:23:13 spec.kprobes[0].args[1].type: unknown argument type "fiel" (did you mean "file"?)',
      'many-errors.yaml:27:19 spec.kprobes[0].selectors[0].matchArgs[0].operator: unknown operator "Prefx" (did you mean "Prefix"?)',
      'many-errors.yaml:31:19 spec.kprobes[0].selectors[0].matchPIDs[0].operator: unknown operator "NotEqual": expected one of In, NotIn',
      'many-errors.yaml:34:17 spec.kprobes[0].selectors[0].matchActions[0].action: unknown action "Sigkil" (did you mean "Sigkill"?)',
      'many-errors.yaml:36:17 spec.kprobes[0].selectors[0].matchActions[1].argSig: expected a whole number from 1 to 64, got 0',
    ]);
    expect(r.policies.map((p) => p.metadata.name)).toEqual(['still-good']);
  });

  it('the invalid fixtures each fail', () => {
    for (const f of readdirSync(join(FIXTURES, 'invalid'))) expect(fixture('invalid', f).errors.length, f).toBeGreaterThan(0);
  });
});
