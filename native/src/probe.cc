// probeFeatures(): what this kernel lets us do, measured rather than guessed from a version
// number. Every probe is cheap (a tiny program load or a file check) and none throws.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "common.h"
#include "kernelfs.h"

namespace pal {
namespace {

struct Check {
  bool ok;
  std::string reason;
};

bool ProgType(bpf_prog_type t) { return libbpf_probe_bpf_prog_type(t, nullptr) == 1; }
bool MapType(bpf_map_type t) { return libbpf_probe_bpf_map_type(t, nullptr) == 1; }
// Our own helper probe: libbpf 1.1's libbpf_probe_bpf_helper() looks for "unknown func" in the
// verifier log, but since 6.x the kernel says "program of this type cannot use helper", so
// libbpf reports helpers as present that are not (bpf_probe_write_user under lockdown, ...).
bool Helper(bpf_prog_type t, bpf_func_id id) {
  const bpf_insn insns[3] = {
      {BPF_JMP | BPF_CALL, 0, 0, 0, static_cast<__s32>(id)},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  char log[4096] = "";
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_level = 1, .log_size = sizeof log, .log_buf = log);
  int fd = bpf_prog_load(t, "pal_probe", "GPL", insns, 3, &opts);
  if (fd >= 0) {
    close(fd);
    return true;
  }
  // Any other rejection (argument types) means the verifier knew the helper for this type.
  return std::strstr(log, "invalid func ") == nullptr && std::strstr(log, "unknown func ") == nullptr &&
         std::strstr(log, "cannot use helper") == nullptr && log[0] != '\0';
}

// Loads "r0 = 0; exit" as a BTF-attached program (fentry, tp_btf, lsm) against a vmlinux
// BTF id: the load itself is what this kernel refuses, so that is what we test.
Check LoadAttached(const btf* vmlinux, bpf_prog_type type, bpf_attach_type attach, const char* target, __u32 kind) {
  if (vmlinux == nullptr) return {false, "no vmlinux BTF"};
  __s32 id = btf__find_by_name_kind(vmlinux, target, kind);
  if (id <= 0) return {false, std::string("no BTF for ") + target};
  const bpf_insn insns[2] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach, .attach_btf_id = static_cast<__u32>(id));
  int fd = bpf_prog_load(type, "pal_probe", "GPL", insns, 2, &opts);
  if (fd >= 0) {
    close(fd);
    return {true, ""};
  }
  int err = errno;
  return {false, std::string("loading a minimal program against ") + target + " failed: " + ErrnoName(err) + " (" +
                     ErrnoText(err) + ")"};
}

bool FilesystemKnown(const char* fs) {
  std::ifstream in("/proc/filesystems");
  std::string line;
  while (std::getline(in, line))
    if (line.size() >= std::strlen(fs) && line.compare(line.size() - std::strlen(fs), std::string::npos, fs) == 0)
      return true;
  return false;
}

// /sys/kernel/security is where every distribution mounts securityfs; mount it there when it
// is absent (as on minimal VMs) so the LSM list and lockdown state can be read.
void EnsureSecurityfs() {
  if (PathExists("/sys/kernel/security/lsm") || !PathExists("/sys/kernel/security")) return;
  if (FilesystemKnown("securityfs")) mount("securityfs", "/sys/kernel/security", "securityfs", 0, nullptr);
}

std::string Cgroup2Mount() {
  std::ifstream in("/proc/self/mounts");
  std::string dev, dir, type;
  std::string rest;
  while (in >> dev >> dir >> type) {
    std::getline(in, rest);
    if (type == "cgroup2") return dir;
  }
  return "";
}

std::string Lockdown() {
  bool ok = false;
  std::string s = ReadTrimmed("/sys/kernel/security/lockdown", &ok);
  if (!ok) return "unknown";
  size_t a = s.find('['), b = s.find(']');
  return (a != std::string::npos && b != std::string::npos && b > a) ? s.substr(a + 1, b - a - 1) : s;
}

std::vector<std::string> Lsms() {
  bool ok = false;
  std::string s = ReadTrimmed("/sys/kernel/security/lsm", &ok);
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (ok && std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

Napi::Object CheckObject(Napi::Env env, const Check& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", c.ok);
  if (!c.reason.empty()) o.Set("reason", c.reason);
  return o;
}

Napi::Value ProbeFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LogCapture quiet;  // libbpf warns about every failed probe; none of it is an error here

  Napi::Object r = Napi::Object::New(env);
  utsname u{};
  r.Set("kernelRelease", uname(&u) == 0 ? std::string(u.release) : std::string("unknown"));
  r.Set("btf", PathExists("/sys/kernel/btf/vmlinux"));

  const std::pair<const char*, bpf_prog_type> progs[] = {
      {"tracepoint", BPF_PROG_TYPE_TRACEPOINT},
      {"raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT},
      {"tracing", BPF_PROG_TYPE_TRACING},
      {"kprobe", BPF_PROG_TYPE_KPROBE},
      {"lsm", BPF_PROG_TYPE_LSM},
      {"cgroup_sock_addr", BPF_PROG_TYPE_CGROUP_SOCK_ADDR},
      {"cgroup_sock", BPF_PROG_TYPE_CGROUP_SOCK},
      {"cgroup_skb", BPF_PROG_TYPE_CGROUP_SKB},
      {"cgroup_device", BPF_PROG_TYPE_CGROUP_DEVICE},
      {"sched_cls", BPF_PROG_TYPE_SCHED_CLS},
      {"perf_event", BPF_PROG_TYPE_PERF_EVENT},
  };

  const std::pair<const char*, bpf_map_type> maps[] = {
      {"hash", BPF_MAP_TYPE_HASH},         {"array", BPF_MAP_TYPE_ARRAY},
      {"percpu_array", BPF_MAP_TYPE_PERCPU_ARRAY}, {"percpu_hash", BPF_MAP_TYPE_PERCPU_HASH},
      {"lru_hash", BPF_MAP_TYPE_LRU_HASH}, {"lpm_trie", BPF_MAP_TYPE_LPM_TRIE},
      {"ringbuf", BPF_MAP_TYPE_RINGBUF},   {"task_storage", BPF_MAP_TYPE_TASK_STORAGE},
  };
  Napi::Object mt = Napi::Object::New(env);
  bool ringbuf = false;
  for (const auto& [name, t] : maps) {
    bool ok = MapType(t);
    if (t == BPF_MAP_TYPE_RINGBUF) ringbuf = ok;
    mt.Set(name, ok);
  }
  r.Set("mapTypes", mt);
  r.Set("ringbuf", ringbuf);

  // BTF-attached loads: the kernel can know a program type yet refuse to load it (here:
  // fentry and lsm fail with EPERM while tp_btf works).
  btf* vmlinux = btf__load_vmlinux_btf();
  if (libbpf_get_error(vmlinux)) vmlinux = nullptr;
  Check fentry = LoadAttached(vmlinux, BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, "vfs_read", BTF_KIND_FUNC);
  Check tpBtf = LoadAttached(vmlinux, BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, "btf_trace_sched_process_exec",
                             BTF_KIND_TYPEDEF);
  Check lsmLoad = LoadAttached(vmlinux, BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "bpf_lsm_file_open", BTF_KIND_FUNC);
  btf__free(vmlinux);

  // libbpf probes "tracing" with no attach target, which this kernel answers with EPERM; a
  // tp_btf program of that type loads, so count it as supported when that works.
  Napi::Object pt = Napi::Object::New(env);
  for (const auto& [name, t] : progs) pt.Set(name, ProgType(t) || (t == BPF_PROG_TYPE_TRACING && tpBtf.ok));
  r.Set("programTypes", pt);

  // bpf_probe_helper cannot test tracing/lsm programs (libbpf returns EOPNOTSUPP), so the
  // helpers are probed from the program types that can use them.
  const bool kprobeType = ProgType(BPF_PROG_TYPE_KPROBE);
  Napi::Object h = Napi::Object::New(env);
  h.Set("bpf_ringbuf_output", Helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_ringbuf_output));
  h.Set("bpf_send_signal", Helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_send_signal));
  h.Set("bpf_get_current_task_btf", Helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf));
  h.Set("bpf_probe_write_user", Helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_probe_write_user));
  h.Set("bpf_override_return", kprobeType && Helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_override_return));
  h.Set("bpf_loop", Helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop));
  h.Set("bpf_get_current_cgroup_id", Helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_cgroup_id));
  h.Set("bpf_get_func_ip", Helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_func_ip));
  // Only fentry/fexit/LSM programs may call bpf_d_path: usable exactly when those load.
  h.Set("bpf_d_path", fentry.ok || lsmLoad.ok);
  r.Set("helpers", h);

  EnsureSecurityfs();
  std::vector<std::string> lsmList = Lsms();
  bool bpfLsm = false;
  Napi::Array la = Napi::Array::New(env, lsmList.size());
  for (size_t i = 0; i < lsmList.size(); i++) {
    la.Set(static_cast<uint32_t>(i), lsmList[i]);
    if (lsmList[i] == "bpf") bpfLsm = true;
  }
  r.Set("lsms", la);
  r.Set("lockdown", Lockdown());

  Napi::Object a = Napi::Object::New(env);
  const bool kp = KprobesAvailable();
  a.Set("kprobe", CheckObject(env, {kp, kp ? "" : KprobeAbsenceReason()}));
  const bool up = PathExists("/sys/bus/event_source/devices/uprobe/type");
  a.Set("uprobe", CheckObject(env, {up, up ? "" : "no uprobe PMU at /sys/bus/event_source/devices/uprobe"}));
  const bool tfsMounted = PathExists(TracefsDir() + "/events");
  const bool tfsKnown = FilesystemKnown("tracefs");
  a.Set("tracepoint", CheckObject(env, {tfsMounted || tfsKnown,
                                        tfsMounted ? ""
                                        : tfsKnown ? "tracefs not mounted; it is mounted at /sys/kernel/tracing on first attach"
                                                   : "no tracefs in this kernel"}));
  a.Set("raw_tp", CheckObject(env, {ProgType(BPF_PROG_TYPE_RAW_TRACEPOINT), ""}));
  a.Set("tp_btf", CheckObject(env, tpBtf));
  a.Set("fentry", CheckObject(env, fentry));
  Check lsm = lsmLoad;
  if (lsm.ok && !bpfLsm) lsm = {false, "program loads but \"bpf\" is not in the active LSM list (boot with lsm=...,bpf)"};
  else if (!lsm.ok && lsmList.empty()) lsm.reason += "; active LSM list unreadable";
  else if (!lsm.ok && !bpfLsm) lsm.reason += "; \"bpf\" is not in the active LSM list";
  a.Set("lsm", CheckObject(env, lsm));
  const std::string cg = Cgroup2Mount();
  const bool sockAddr = ProgType(BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
  a.Set("cgroup", CheckObject(env, {sockAddr && !cg.empty(), cg.empty() ? "no cgroup2 mount" : ""}));
  a.Set("tc", CheckObject(env, {ProgType(BPF_PROG_TYPE_SCHED_CLS), ""}));
  r.Set("attach", a);
  r.Set("cgroup2Path", cg.empty() ? env.Null() : Napi::String::New(env, cg));
  return r;
}

Napi::Value ProbeFeaturesSafe(const Napi::CallbackInfo& info) {
  try {
    return ProbeFeatures(info);
  } catch (const Napi::Error&) {
    // Never throw from a probe: report what an empty probe would.
    Napi::Object r = Napi::Object::New(info.Env());
    r.Set("error", "probeFeatures failed");
    return r;
  }
}

}  // namespace

void InitProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probeFeatures", Napi::Function::New(env, ProbeFeaturesSafe, "probeFeatures"));
}

}  // namespace pal
