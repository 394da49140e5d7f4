// Attaching programs (one function per AttachSpec kind) and NativeLink, the JS handle of an
// attachment.
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "kernelfs.h"
#include "object.h"

namespace pal {
namespace {

// ---- AttachSpec field access -----------------------------------------------------------------

std::string SpecString(Napi::Env env, const Napi::Object& spec, const char* key) {
  Napi::Value v = spec.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string("AttachSpec.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool SpecHas(const Napi::Object& spec, const char* key) {
  Napi::Value v = spec.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

double SpecNumber(Napi::Env env, const Napi::Object& spec, const char* key, double min, double max) {
  Napi::Value v = spec.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= min && d <= max) || d != std::floor(d))
    throw Napi::TypeError::New(env, std::string("AttachSpec.") + key + " must be an integer in [" +
                                        std::to_string(static_cast<long long>(min)) + ", " +
                                        std::to_string(static_cast<long long>(max)) + "]");
  return d;
}

bool SpecBool(const Napi::Object& spec, const char* key) {
  Napi::Value v = spec.Get(key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// ---- failures ----------------------------------------------------------------------------------

[[noreturn]] void AttachFailed(Napi::Env env, int err, const std::string& what, const LogCapture& log) {
  ThrowErrno(env, "attach", err, what, log.Tail());
}

// A kprobe that fails on a kernel without kprobes gets that said plainly, with EOPNOTSUPP.
[[noreturn]] void KprobeFailed(Napi::Env env, int err, const std::string& func, const LogCapture& log) {
  if (!KprobesAvailable())
    ThrowBpf(env, "attach", EOPNOTSUPP, "kprobe attach to " + func + " failed: " + KprobeAbsenceReason(), log.Tail());
  AttachFailed(env, err, "kprobe attach to " + func + " failed", log);
}

void NeedTracefs(Napi::Env env, const std::string& what) {
  std::string why;
  int err = EnsureTracefs(&why);
  if (err != 0) ThrowBpf(env, "attach", err, what + ": " + why);
}

// ---- kinds -------------------------------------------------------------------------------------

bpf_link* AttachAuto(Napi::Env env, bpf_program* prog, const std::string& name, LogCapture& log) {
  const std::string sec = bpf_program__section_name(prog);
  const bool isKprobe = StartsWith(sec, "kprobe/") || StartsWith(sec, "kretprobe/");
  if (StartsWith(sec, "tp/") || StartsWith(sec, "tracepoint/")) NeedTracefs(env, "attach '" + name + "' (" + sec + ")");
  if (isKprobe) PrepareKprobeAttach();
  bpf_link* l = bpf_program__attach(prog);
  if (l != nullptr) return l;
  int err = errno;
  if (isKprobe) KprobeFailed(env, err, sec.substr(sec.find('/') + 1), log);
  if (err == EOPNOTSUPP)
    ThrowBpf(env, "attach", err,
             "attach '" + name + "': section '" + sec + "' does not say where to attach; pass an explicit AttachSpec",
             log.Tail());
  AttachFailed(env, err, "attach '" + name + "' (" + sec + ")", log);
}

bpf_link* AttachUprobe(Napi::Env env, bpf_program* prog, const std::string& name, const Napi::Object& spec,
                       LogCapture& log) {
  const std::string binary = SpecString(env, spec, "binary");
  const bool hasSymbol = SpecHas(spec, "symbol");
  const std::string symbol = hasSymbol ? SpecString(env, spec, "symbol") : std::string();
  const double offset = SpecHas(spec, "offset") ? SpecNumber(env, spec, "offset", 0, 9007199254740991.0) : 0;
  const int pid = SpecHas(spec, "pid") ? static_cast<int>(SpecNumber(env, spec, "pid", -1, 2147483647.0)) : -1;
  if (!hasSymbol && !SpecHas(spec, "offset"))
    ThrowBpf(env, "attach", EINVAL, "attach '" + name + "' as uprobe: give a symbol or an offset");
  // libbpf searches library paths for bare names like "libc.so.6"; paths must exist.
  if (binary.find('/') != std::string::npos && !PathExists(binary))
    ThrowErrno(env, "attach", ENOENT, "attach '" + name + "' as uprobe: binary " + binary);
  bpf_uprobe_opts opts{};
  opts.sz = sizeof opts;
  opts.retprobe = SpecBool(spec, "retprobe");
  opts.func_name = hasSymbol ? symbol.c_str() : nullptr;
  bpf_link* l = bpf_program__attach_uprobe_opts(prog, pid, binary.c_str(), static_cast<size_t>(offset), &opts);
  if (l == nullptr) {
    int err = errno;
    AttachFailed(env, err,
                 "uprobe attach to " + binary + (hasSymbol ? ":" + symbol : "") +
                     (SpecHas(spec, "offset") ? "+" + std::to_string(static_cast<unsigned long long>(offset)) : "") +
                     " failed",
                 log);
  }
  return l;
}

bpf_link* AttachKprobe(Napi::Env env, bpf_program* prog, const Napi::Object& spec, LogCapture& log) {
  const std::string func = SpecString(env, spec, "func");
  PrepareKprobeAttach();
  bpf_kprobe_opts opts{};
  opts.sz = sizeof opts;
  opts.retprobe = SpecBool(spec, "retprobe");
  bpf_link* l = bpf_program__attach_kprobe_opts(prog, func.c_str(), &opts);
  if (l == nullptr) {
    int err = errno;  // before building the message
    KprobeFailed(env, err, func, log);
  }
  return l;
}

bpf_link* AttachCgroup(Napi::Env env, bpf_program* prog, const std::string& name, const Napi::Object& spec,
                       LogCapture& log) {
  const std::string path = SpecString(env, spec, "cgroupPath");
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    ThrowErrno(env, "attach", err, "attach '" + name + "' to cgroup " + path);
  }
  bpf_link* l = bpf_program__attach_cgroup(prog, fd);
  int err = errno;
  close(fd);  // the link holds its own reference to the cgroup
  if (l == nullptr) AttachFailed(env, err, "attach '" + name + "' to cgroup " + path, log);
  return l;
}

void AttachTc(Napi::Env env, bpf_program* prog, const std::string& name, const Napi::Object& spec, LinkState& ls,
              LogCapture& log) {
  const int ifindex = static_cast<int>(SpecNumber(env, spec, "ifindex", 1, 2147483647.0));
  const std::string dir = SpecString(env, spec, "direction");
  if (dir != "ingress" && dir != "egress")
    throw Napi::TypeError::New(env, "AttachSpec.direction must be 'ingress' or 'egress'");
  const std::string where = "tc " + dir + " of ifindex " + std::to_string(ifindex);

  ls.tcHook.sz = sizeof ls.tcHook;
  ls.tcHook.ifindex = ifindex;
  ls.tcHook.attach_point = dir == "ingress" ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  int rc = bpf_tc_hook_create(&ls.tcHook);  // adds the clsact qdisc; EEXIST: already there
  if (rc < 0 && rc != -EEXIST) AttachFailed(env, -rc, "attach '" + name + "': create " + where + " hook", log);

  ls.tcOpts.sz = sizeof ls.tcOpts;
  ls.tcOpts.prog_fd = bpf_program__fd(prog);
  if (SpecHas(spec, "priority")) ls.tcOpts.priority = static_cast<__u32>(SpecNumber(env, spec, "priority", 1, 65535));
  if (SpecHas(spec, "handle")) ls.tcOpts.handle = static_cast<__u32>(SpecNumber(env, spec, "handle", 1, 4294967295.0));
  rc = bpf_tc_attach(&ls.tcHook, &ls.tcOpts);  // fills in the handle/priority chosen
  if (rc < 0) AttachFailed(env, -rc, "attach '" + name + "' to " + where, log);
  ls.isTc = true;
}

// ---- NativeLink --------------------------------------------------------------------------------

class NativeLink : public Napi::ObjectWrap<NativeLink> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeLink",
                       {
                           InstanceAccessor<&NativeLink::Program>("program"),
                           InstanceAccessor<&NativeLink::Kind>("kind"),
                           InstanceAccessor<&NativeLink::Destroyed>("destroyed"),
                           InstanceMethod<&NativeLink::Destroy>("destroy"),
                       });
  }

  explicit NativeLink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeLink>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "use BpfObject.attach()");
    link_ = *info[0].As<Napi::External<std::shared_ptr<LinkState>>>().Data();
  }

 private:
  std::shared_ptr<LinkState> link_;

  Napi::Value Program(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), link_->program); }
  Napi::Value Kind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), link_->kind); }
  Napi::Value Destroyed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), link_->destroyed); }

  void Destroy(const Napi::CallbackInfo& info) {
    LogCapture log;
    int err = link_->Destroy();
    // ENOENT: already gone (e.g. the qdisc or interface was removed), which is what we wanted.
    if (err != 0 && err != ENOENT)
      ThrowErrno(info.Env(), "detach", err, "destroy " + link_->kind + " link of '" + link_->program + "'", log.Tail());
  }
};

}  // namespace

std::shared_ptr<LinkState> Attach(Napi::Env env, bpf_program* prog, const Napi::Object& spec) {
  const std::string name = bpf_program__name(prog);
  const std::string kind = SpecHas(spec, "kind") ? SpecString(env, spec, "kind") : "auto";
  auto ls = std::make_shared<LinkState>();
  ls->program = name;
  ls->kind = kind;
  LogCapture log;
  bpf_link* l = nullptr;

  if (kind == "auto") {
    l = AttachAuto(env, prog, name, log);
  } else if (kind == "tracepoint") {
    const std::string cat = SpecString(env, spec, "category"), tp = SpecString(env, spec, "name");
    NeedTracefs(env, "tracepoint attach to " + cat + "/" + tp);
    l = bpf_program__attach_tracepoint(prog, cat.c_str(), tp.c_str());
    if (l == nullptr) {
      int err = errno;  // before building the message
      AttachFailed(env, err, "tracepoint attach to " + cat + "/" + tp + " failed", log);
    }
  } else if (kind == "raw_tp") {
    const std::string tp = SpecString(env, spec, "name");
    l = bpf_program__attach_raw_tracepoint(prog, tp.c_str());
    if (l == nullptr) {
      int err = errno;  // before building the message
      AttachFailed(env, err, "raw_tp attach to " + tp + " failed", log);
    }
  } else if (kind == "tp_btf" || kind == "fentry") {
    l = bpf_program__attach_trace(prog);
    if (l == nullptr) {
      int err = errno;  // before building the message
      AttachFailed(env, err, kind + " attach of '" + name + "' failed", log);
    }
  } else if (kind == "lsm") {
    l = bpf_program__attach_lsm(prog);
    if (l == nullptr) {
      int err = errno;  // before building the message
      AttachFailed(env, err, "lsm attach of '" + name + "' failed", log);
    }
  } else if (kind == "uprobe") {
    l = AttachUprobe(env, prog, name, spec, log);
  } else if (kind == "kprobe") {
    l = AttachKprobe(env, prog, spec, log);
  } else if (kind == "cgroup") {
    l = AttachCgroup(env, prog, name, spec, log);
  } else if (kind == "tc") {
    AttachTc(env, prog, name, spec, *ls, log);
  } else {
    throw Napi::TypeError::New(env, "unknown AttachSpec.kind '" + kind + "'");
  }
  ls->link = l;
  return ls;
}

Napi::Object WrapLink(Napi::Env env, std::shared_ptr<LinkState> link) {
  return Data(env).linkCtor.New({Napi::External<std::shared_ptr<LinkState>>::New(env, &link)});
}

void InitLink(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = NativeLink::Define(env);
  Data(env).linkCtor = Napi::Persistent(ctor);
  exports.Set("NativeLink", ctor);
}

}  // namespace pal
