// One item, or a list of them: the common case of one held without a list (a bulk load holds
// tens of thousands of such fields, and a one-element array is two objects).

export type OneOrMany<T> = T | readonly T[];

export const countOf = <T>(x: OneOrMany<T>): number => (Array.isArray(x) ? x.length : 1);

export const itemAt = <T>(x: OneOrMany<T>, i: number): T => (Array.isArray(x) ? (x as readonly T[])[i]! : (x as T));
