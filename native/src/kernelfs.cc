// Pseudo file system checks shared by attach.cc and probe.cc.
#include "kernelfs.h"

#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace pal {

namespace {
constexpr const char* kTracefs = "/sys/kernel/tracing";
constexpr const char* kDebugTracing = "/sys/kernel/debug/tracing";
constexpr const char* kKprobePmu = "/sys/bus/event_source/devices/kprobe/type";
}  // namespace

bool PathExists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string ReadTrimmed(const std::string& path, bool* ok) {
  std::ifstream in(path);
  if (!in) {
    if (ok) *ok = false;
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  if (ok) *ok = true;
  return s;
}

bool OnBpffs(const std::string& path) {
  constexpr long kBpfFsMagic = 0xcafe4a11;
  struct statfs st {};
  if (statfs(path.c_str(), &st) == 0) return st.f_type == kBpfFsMagic;
  size_t slash = path.find_last_of('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  return statfs(parent.c_str(), &st) == 0 && st.f_type == kBpfFsMagic;
}

std::string TracefsDir() { return PathExists(kDebugTracing) ? kDebugTracing : kTracefs; }

int EnsureTracefs(std::string* why) {
  const std::string dir = TracefsDir();
  if (PathExists(dir + "/events")) return 0;
  // Only /sys/kernel/tracing is ours to mount; a debugfs tracing dir without events is odd.
  int err = ENOENT;
  if (dir == kTracefs) {
    if (mount("nodev", kTracefs, "tracefs", 0, nullptr) != 0)
      err = errno;
    else if (PathExists(dir + "/events"))
      return 0;
  }
  if (why)
    *why = "tracefs is not mounted (" + dir + "/events is missing) and mounting it failed (" +
           std::strerror(err) + "); run: mount -t tracefs nodev " + kTracefs;
  return err;
}

void PrepareKprobeAttach() {
  if (!PathExists(kKprobePmu)) EnsureTracefs(nullptr);
}

bool KprobesAvailable() {
  if (PathExists(kKprobePmu)) return true;
  return PathExists(std::string(kTracefs) + "/kprobe_events") || PathExists(std::string(kDebugTracing) + "/kprobe_events");
}

std::string KprobeAbsenceReason() {
  bool tracefsMounted = PathExists(TracefsDir() + "/events");
  std::string r = "this kernel has no kprobe support (CONFIG_KPROBES unset): no kprobe PMU at /sys/bus/event_source/devices/kprobe";
  r += tracefsMounted ? " and no kprobe_events in tracefs" : " (tracefs not mounted, kprobe_events not checked)";
  return r;
}

}  // namespace pal
