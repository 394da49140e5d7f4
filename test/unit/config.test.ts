import { describe, expect, it } from 'vitest';
import { applyConfigText, ConfigError, defaultConfig } from '../../agent/config/config.js';
import { buildConfig } from '../../agent/cli/agent.js';

const cfg = () => defaultConfig('/b');

describe('agent config', () => {
  it('applies a valid file', () => {
    const c = cfg();
    applyConfigText(c, 'node_name: n1\nexport:\n  stdout: none\n  file:\n    path: /tmp/x.log\n    max_size_mb: 5\nprocess_cache:\n  ancestors_depth: 2\n', 'a.yaml');
    expect(c.nodeName).toBe('n1');
    expect(c.export.stdout).toBe('none');
    expect(c.export.file).toEqual({ path: '/tmp/x.log', format: 'json', maxSizeMb: 5, maxFiles: 5 });
    expect(c.processCache.ancestorsDepth).toBe(2);
  });

  it.each([
    ['export:\n  stdot: json\n', 'a.yaml:2:3 export.stdot: unknown field (did you mean "stdout"?)'],
    ['ring_buffer_bytes: 5000\n', 'a.yaml:1:20 ring_buffer_bytes: must be a power of two (e.g. 4096), got 5000'],
    ['log_level: loud\n', 'a.yaml:1:12 log_level: expected one of trace, debug, info, warn, error, fatal, silent, got "loud"'],
    ['process_cache:\n  max_entries: -3\n', 'a.yaml:2:16 process_cache.max_entries: expected a whole number from 1024 to 10000000, got -3'],
    ['node_name: [a\n', 'a.yaml:2:1: invalid YAML: Flow sequence'],
    ['- a\n', 'a.yaml:1:1 (top level): expected a mapping'],
  ])('rejects %j with file, line, column and field', (text, msg) => {
    expect(() => applyConfigText(cfg(), text, 'a.yaml')).toThrow(ConfigError);
    expect(() => applyConfigText(cfg(), text, 'a.yaml')).toThrow(msg);
  });

  it('leaves credentials and namespaces out of process blocks unless enabled, as Tetragon does', () => {
    const c = cfg();
    expect([c.enableProcessCred, c.enableProcessNs]).toEqual([false, false]);
    applyConfigText(c, 'enable_process_cred: true\nenable_process_ns: true\n', 'a.yaml');
    expect([c.enableProcessCred, c.enableProcessNs]).toEqual([true, true]);
    expect(() => applyConfigText(cfg(), 'enable_process_ns: 1\n', 'a.yaml')).toThrow('a.yaml:1:20 enable_process_ns: expected true or false, got 1');
  });

  it('names an unreadable file', () => {
    expect(() => buildConfig({ config: '/nonexistent/palisade.yaml' })).toThrow('/nonexistent/palisade.yaml: cannot read config file (ENOENT)');
  });

  it('checks flags like the file and names the flag', () => {
    expect(buildConfig({ exportFile: '/tmp/e.log', ancestorsDepth: '3' }).export.file?.path).toBe('/tmp/e.log');
    expect(() => buildConfig({ drainIntervalMs: 'soon' })).toThrow('--drain-interval-ms: expected a whole number from 1 to 1000, got "soon"');
  });
});
