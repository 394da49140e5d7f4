import { describe, expect, it } from 'vitest';
import { selectorKey } from '../../network/policy/selectors.js';
import type { LabelRequirement, Selector } from '../../network/policy/types.js';

const sel = (...requirements: LabelRequirement[]): Selector => ({ requirements });
const req = (key: string, operator: LabelRequirement['operator'], ...values: string[]): LabelRequirement => ({ key, operator, values });

describe('selectorKey (the memo key of what a selector selects)', () => {
  it('is equal for equal selectors and differs for any different requirement', () => {
    expect(selectorKey(sel(req('app', 'In', 'web')))).toBe(selectorKey(sel(req('app', 'In', 'web'))));
    const distinct = [
      sel(),
      sel(req('app', 'In', 'web')),
      sel(req('app', 'NotIn', 'web')),
      sel(req('app', 'In', 'web', 'db')),
      sel(req('app', 'In', 'web'), req('app', 'In', 'db')),
      sel(req('app', 'In', 'webdb')),
      sel(req('appweb', 'Exists')),
      sel(req('app', 'Exists'), req('web', 'Exists')),
      sel(req('app', 'In', '')),
    ];
    expect(new Set(distinct.map(selectorKey)).size).toBe(distinct.length);
  });
});
