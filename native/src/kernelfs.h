// Small helpers over the pseudo file systems libbpf depends on (tracefs, sysfs, securityfs).
#pragma once

#include <string>

namespace pal {

bool PathExists(const std::string& path);
// Whole file, trailing whitespace removed; `ok` false when it cannot be read.
std::string ReadTrimmed(const std::string& path, bool* ok);

// The tracefs directory libbpf 1.1 uses: /sys/kernel/debug/tracing when that exists, else
// /sys/kernel/tracing (libbpf decides once per process).
std::string TracefsDir();
// Makes sure <tracefs>/events exists, mounting tracefs at /sys/kernel/tracing if needed.
// Returns 0, or a positive errno with `why` explaining what to do.
int EnsureTracefs(std::string* why);

// Whether `path` (or, if it does not exist, its parent directory) is on a bpf file system.
bool OnBpffs(const std::string& path);

// libbpf falls back to tracefs kprobe_events when there is no kprobe PMU: mount tracefs for it
// then (best effort), and only then.
void PrepareKprobeAttach();

// kprobe PMU (perf_event "kprobe" type) or legacy kprobe_events in a mounted tracefs.
bool KprobesAvailable();
// Why KprobesAvailable() is false, for messages and the feature report.
std::string KprobeAbsenceReason();

}  // namespace pal
