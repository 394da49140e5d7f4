// Palisade's in-kernel limits for a policy. The BPF selector programs are bounded loops and
// fixed-size maps; a policy past a limit is rejected with the limit in the message, never cut.
// Where Tetragon has the same bound we keep its number, so its manifests keep working.
export const LIMITS = {
  /** Selectors per hook. Tetragon: "from 0 to 5 selectors". */
  selectorsPerHook: 5,
  /** Captured arguments per hook. Tetragon: 5 arguments (+ the return argument). */
  argsPerHook: 5,
  /** Highest argument index of a function hook (kprobe, uprobe, LSM): 6 register arguments. */
  maxFunctionArgIndex: 5,
  /** Highest field index of a tracepoint (index counts the format's fields, common_* included). */
  maxTracepointArgIndex: 31,
  /** matchArgs per selector (and matchReturnArgs). Tetragon: 5. */
  matchArgsPerSelector: 5,
  /** Values of an inline numeric compare (Equal on numbers, GT, LT, Mask, InRange). Tetragon: 4 (MAX_MATCH_VALUES). */
  inlineValues: 4,
  /** Values of a map-backed filter (strings, prefixes, addresses, ports, InMap) as written. */
  mapValues: 1024,
  /** Map entries a filter may expand to (ranges in InMap and ports become one entry per number). */
  mapEntries: 65536,
  /** Bytes of an Equal or Prefix string value: an LPM trie key holds 256 bytes, 4 of them the filter id, 1 the NUL. */
  stringValueBytes: 251,
  /** Bytes of a Postfix value: matched by reverse copy into an LPM key. Tetragon: 127. */
  postfixValueBytes: 127,
  /** Bytes of a SubString value. Tetragon: fewer than 100. */
  substringValueBytes: 99,
  /** matchPIDs entries per selector. */
  matchPIDsPerSelector: 4,
  /** PIDs per matchPIDs entry. Tetragon silently matches only the first 4; we match up to 32 or refuse. */
  pidValues: 32,
  /** matchBinaries per selector. Tetragon: 1. */
  matchBinariesPerSelector: 1,
  /** Paths per matchBinaries. */
  binaryValues: 128,
  /** Bytes of a matchBinaries path (Tetragon: 255). Ours live in a 256-byte LPM key with a 4-byte kind and the NUL. */
  binaryPathBytes: 251,
  /** matchNamespaces per selector. Tetragon: 10 on kernels >= 5.3. */
  matchNamespacesPerSelector: 10,
  /** Values per matchNamespaces entry. Tetragon: 4. */
  namespaceValues: 4,
  /** matchNamespaceChanges per selector. Tetragon: 1. */
  matchNamespaceChangesPerSelector: 1,
  /** matchCapabilities (and matchCapabilityChanges) per selector: one per capability set. */
  matchCapabilitiesPerSelector: 3,
  /** Actions per selector (matchActions, matchReturnActions). Tetragon: 3. */
  actionsPerSelector: 3,
  /** Tags per hook. Tetragon: 16. */
  tagsPerHook: 16,
  /** Characters of a hook message. Tetragon: 256. */
  messageChars: 256,
  /** Longest rateLimit: the window is kept in milliseconds in a u32. */
  rateLimitMaxSeconds: 4_294_967,
} as const;
