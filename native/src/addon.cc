// Module entry: registers the classes and the few free functions.
#include <bpf/libbpf.h>

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

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  env.SetInstanceData(new AddonData());
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus, "possibleCpus"));
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
