// Module entry: registers the classes and the few free functions.
#include <bpf/libbpf.h>
#include <time.h>

#include <cstdint>

#include "common.h"

namespace pal {

AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

namespace {

// The TS facade hands us its BpfError constructor wrapper so native errors are real BpfErrors.
void SetErrorFactory(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction())
    throw Napi::TypeError::New(info.Env(), "setErrorFactory expects a function");
  Data(info.Env()).errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
}

Napi::Value PossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n <= 0) ThrowErrno(info.Env(), "possibleCpus", -n, "cannot read /sys/devices/system/cpu/possible");
  return Napi::Number::New(info.Env(), n);
}

int64_t Ns(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// CLOCK_REALTIME - CLOCK_BOOTTIME (what bpf_ktime_get_boot_ns() returns): the realtime read
// is bracketed by two boottime reads, and the tightest of a few brackets wins.
Napi::Value BootTimeOffsetNs(const Napi::CallbackInfo& info) {
  int64_t best = 0, bestWidth = INT64_MAX;
  for (int i = 0; i < 5; i++) {
    int64_t b0 = Ns(CLOCK_BOOTTIME), r = Ns(CLOCK_REALTIME), b1 = Ns(CLOCK_BOOTTIME);
    if (b1 - b0 < bestWidth) {
      bestWidth = b1 - b0;
      best = r - (b0 + (b1 - b0) / 2);
    }
  }
  return Napi::BigInt::New(info.Env(), best);
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  env.SetInstanceData(new AddonData());
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus, "possibleCpus"));
  exports.Set("bootTimeOffsetNs", Napi::Function::New(env, BootTimeOffsetNs, "bootTimeOffsetNs"));
  InitObject(env, exports);
  InitLink(env, exports);
  InitMap(env, exports);
  InitRingBuffer(env, exports);
  InitProbe(env, exports);
  return exports;
}

}  // namespace pal

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return pal::Init(env, exports); }
NODE_API_MODULE(palisade_native, InitModule)
