// Kernel features a test needs, from the same probe the agent runs at start (`palisade probe`).
// A test file declares them with needs(...) and is skipped, with the probe's reason, where the
// running kernel lacks one: the same file proves the hook in the VM (test/vm) and skips on the host.
import { beforeAll, beforeEach } from 'vitest';
import { probeFeatures } from '../../native/index.js';
import type { FeatureReport } from '../../native/types.js';

/** Attach kinds reported by probeFeatures().attach. */
export type Feature = 'kprobe' | 'uprobe' | 'tracepoint' | 'raw_tp' | 'tp_btf' | 'fentry' | 'lsm' | 'cgroup' | 'tc';

let report: FeatureReport | undefined;
export function features(): FeatureReport {
  report ??= probeFeatures();
  return report;
}

/** Why this kernel cannot run a test needing `wanted`, or undefined when it has them all. */
export function missing(...wanted: Feature[]): string | undefined {
  const attach = features().attach;
  const reasons = wanted.flatMap((f) => {
    const r = attach[f];
    return r?.ok ? [] : [`${f}: ${r?.reason ?? 'not reported by the feature probe'}`];
  });
  return reasons.length > 0 ? `kernel ${features().kernelRelease} lacks ${reasons.join('; ')}` : undefined;
}

/**
 * Call at the top of a describe block: where a feature is missing, every test in the block is
 * skipped with the reason, which is also printed once. Returns the reason (undefined: all present)
 * so the block's own beforeAll can skip its set-up.
 */
export function needs(...wanted: Feature[]): string | undefined {
  const reason = missing(...wanted);
  if (reason) {
    beforeAll(() => console.log(`skipped: needs ${wanted.join(', ')}: ${reason}`));
    beforeEach((ctx) => ctx.skip(reason));
  }
  return reason;
}
