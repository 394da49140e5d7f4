// NativeObject: one BPF ELF object (bpf_object) from open through load to close.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "object.h"

namespace pal {

// ---- shared state ----------------------------------------------------------------------------

int LinkState::Destroy() {
  if (destroyed) return 0;
  destroyed = true;
  int rc = 0;
  if (isTc) {
    // Detach needs handle+priority only; prog_fd/flags/prog_id must be zero.
    bpf_tc_opts opts{};
    opts.sz = sizeof opts;
    opts.handle = tcOpts.handle;
    opts.priority = tcOpts.priority;
    rc = bpf_tc_detach(&tcHook, &opts);
  } else if (link != nullptr) {
    rc = bpf_link__destroy(link);
    link = nullptr;
  }
  return rc < 0 ? -rc : 0;
}

void ObjectState::Close() {
  for (auto& l : links) l->Destroy();
  links.clear();
  if (obj != nullptr) bpf_object__close(obj);
  obj = nullptr;
}

ObjectState::~ObjectState() {
  for (auto& l : links)
    if (!l->destroyed) return;  // something is attached: keep it, see object.h
  Close();
}

namespace {

const char* kOpenHint = "BpfObject.open";

class NativeObject : public Napi::ObjectWrap<NativeObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeObject",
                       {
                           StaticMethod<&NativeObject::Open>("open"),
                           InstanceMethod<&NativeObject::SetConst>("setConst"),
                           InstanceMethod<&NativeObject::SetMapMaxEntries>("setMapMaxEntries"),
                           InstanceMethod<&NativeObject::SetAutoload>("setAutoload"),
                           InstanceMethod<&NativeObject::ReuseMap>("reuseMap"),
                           InstanceMethod<&NativeObject::SetAttachTarget>("setAttachTarget"),
                           InstanceMethod<&NativeObject::Load>("load"),
                           InstanceMethod<&NativeObject::Programs>("programs"),
                           InstanceMethod<&NativeObject::Maps>("maps"),
                           InstanceMethod<&NativeObject::Map>("map"),
                           InstanceMethod<&NativeObject::AttachProg>("attach"),
                           InstanceMethod<&NativeObject::Close>("close"),
                           InstanceAccessor<&NativeObject::Name>("name"),
                           InstanceAccessor<&NativeObject::Loaded>("loaded"),
                       });
  }

  explicit NativeObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeObject>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), std::string("use ") + kOpenHint + "(path)");
    state_ = *info[0].As<Napi::External<std::shared_ptr<ObjectState>>>().Data();
  }

 private:
  std::shared_ptr<ObjectState> state_;

  static Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = ArgString(info, 0, "path");
    LogCapture log;
    bpf_object* obj = bpf_object__open_file(path.c_str(), nullptr);
    if (obj == nullptr) {
      int err = errno;
      ThrowErrno(env, "open", err, "open " + path, log.Tail());
    }
    auto state = std::make_shared<ObjectState>();
    state->obj = obj;
    state->path = path;
    return Data(env).objectCtor.New({Napi::External<std::shared_ptr<ObjectState>>::New(env, &state)});
  }

  // Throws unless the object is open (and, when asked, not yet loaded).
  bpf_object* Live(Napi::Env env, const char* op, bool beforeLoad) {
    if (state_->closed()) ThrowBpf(env, op, EBADF, std::string(op) + ": object " + state_->path + " is closed");
    if (beforeLoad && state_->loadAttempted)
      ThrowBpf(env, op, EBUSY, std::string(op) + " must be called before load() (" + state_->path + ")");
    return state_->obj;
  }

  bpf_program* FindProgram(Napi::Env env, const char* op, const std::string& name) {
    bpf_object* obj = Live(env, op, false);
    bpf_program* p = bpf_object__find_program_by_name(obj, name.c_str());
    if (p != nullptr) return p;
    std::string known;
    bpf_program* q = nullptr;
    bpf_object__for_each_program(q, obj) known += (known.empty() ? "" : ", ") + std::string(bpf_program__name(q));
    ThrowBpf(env, op, ENOENT, std::string(op) + ": no program '" + name + "' in " + state_->path + " (programs: " + known + ")");
  }

  bpf_map* FindMap(Napi::Env env, const char* op, const std::string& name) {
    bpf_object* obj = Live(env, op, false);
    bpf_map* m = bpf_object__find_map_by_name(obj, name.c_str());
    if (m != nullptr) return m;
    // Internal maps are named "<object prefix>.bss" etc.; accept ".bss", ".data", ".rodata".
    if (!name.empty() && name[0] == '.') {
      bpf_map* q = nullptr;
      bpf_object__for_each_map(q, obj) {
        std::string n = bpf_map__name(q);
        if (bpf_map__is_internal(q) && n.size() >= name.size() && n.compare(n.size() - name.size(), name.size(), name) == 0)
          return q;
      }
    }
    std::string known;
    bpf_map* q = nullptr;
    bpf_object__for_each_map(q, obj) known += (known.empty() ? "" : ", ") + std::string(bpf_map__name(q));
    ThrowBpf(env, op, ENOENT, std::string(op) + ": no map '" + name + "' in " + state_->path + " (maps: " + known + ")");
  }

  // setConst(name, value): writes a global of .rodata/.data/.bss before load, located through
  // the object's BTF DATASEC records (offset and size of each variable).
  void SetConst(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "setConst";
    std::string name = ArgString(info, 0, "name");
    Bytes value = ArgBytes(info, 1, "value");
    bpf_object* obj = Live(env, op, true);
    btf* b = bpf_object__btf(obj);
    if (b == nullptr) ThrowBpf(env, op, ENOENT, "setConst: " + state_->path + " has no BTF");

    std::string known;
    const __u32 n = btf__type_cnt(b);
    for (__u32 id = 1; id < n; id++) {
      const btf_type* t = btf__type_by_id(b, id);
      if (!btf_is_datasec(t)) continue;
      std::string sec = btf__name_by_offset(b, t->name_off);
      if (sec.rfind(".rodata", 0) != 0 && sec.rfind(".data", 0) != 0 && sec.rfind(".bss", 0) != 0) continue;
      const btf_var_secinfo* vs = btf_var_secinfos(t);
      for (__u16 i = 0; i < btf_vlen(t); i++, vs++) {
        const btf_type* vt = btf__type_by_id(b, vs->type);
        std::string vname = btf__name_by_offset(b, vt->name_off);
        if (vname != name) {
          known += (known.empty() ? "" : ", ") + vname;
          continue;
        }
        if (value.size != vs->size)
          ThrowBpf(env, op, EINVAL,
                   "setConst '" + name + "': expected " + std::to_string(vs->size) + " bytes, got " +
                       std::to_string(value.size));
        bpf_map* m = SectionMap(obj, sec);
        size_t size = 0;
        void* data = m ? const_cast<void*>(bpf_map__initial_value(m, &size)) : nullptr;
        if (data == nullptr || vs->offset + vs->size > size)
          ThrowBpf(env, op, ENOENT, "setConst '" + name + "': no writable data for section " + sec);
        std::memcpy(static_cast<uint8_t*>(data) + vs->offset, value.data, vs->size);
        return;
      }
    }
    ThrowBpf(env, op, ENOENT, "setConst: no global '" + name + "' in " + state_->path + " (globals: " + known + ")");
  }

  // The internal map libbpf made for a data section: "<prefix>.rodata" for the standard
  // sections, the section name itself for custom ".rodata.foo" ones.
  static bpf_map* SectionMap(bpf_object* obj, const std::string& sec) {
    bpf_map* m = nullptr;
    bpf_object__for_each_map(m, obj) {
      if (!bpf_map__is_internal(m)) continue;
      std::string n = bpf_map__name(m);
      if (n == sec) return m;
      if (n.size() > sec.size() && n.compare(n.size() - sec.size(), sec.size(), sec) == 0 &&
          n.find('.') == n.size() - sec.size())
        return m;
    }
    return nullptr;
  }

  void SetMapMaxEntries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "setMapMaxEntries";
    std::string name = ArgString(info, 0, "map");
    uint32_t n = ArgU32(info, 1, "maxEntries");
    Live(env, op, true);
    bpf_map* m = FindMap(env, op, name);
    LogCapture log;
    int rc = bpf_map__set_max_entries(m, n);
    if (rc < 0) ThrowErrno(env, op, -rc, "setMapMaxEntries '" + name + "'", log.Tail());
  }

  // Before load: the object uses an existing map (by fd) instead of creating its own, so several
  // objects share one ring buffer or one process table. libbpf dups the fd.
  void ReuseMap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "reuseMap";
    std::string name = ArgString(info, 0, "map");
    uint32_t fd = ArgU32(info, 1, "fd");
    Live(env, op, true);
    bpf_map* m = FindMap(env, op, name);
    LogCapture log;
    int rc = bpf_map__reuse_fd(m, static_cast<int>(fd));
    if (rc < 0) ThrowErrno(env, op, -rc, "reuseMap '" + name + "'", log.Tail());
  }

  // Before load: the kernel function an fentry/fexit/lsm/fmod_ret program attaches to.
  void SetAttachTarget(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "setAttachTarget";
    std::string name = ArgString(info, 0, "prog");
    std::string target = ArgString(info, 1, "target");
    Live(env, op, true);
    bpf_program* p = FindProgram(env, op, name);
    LogCapture log;
    int rc = bpf_program__set_attach_target(p, 0, target.c_str());
    if (rc < 0) ThrowErrno(env, op, -rc, "setAttachTarget '" + name + "' to '" + target + "'", log.Tail());
  }

  void SetAutoload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "setAutoload";
    std::string name = ArgString(info, 0, "prog");
    if (info.Length() < 2 || !info[1].IsBoolean()) throw Napi::TypeError::New(env, "on must be a boolean");
    Live(env, op, true);
    bpf_program* p = FindProgram(env, op, name);
    int rc = bpf_program__set_autoload(p, info[1].As<Napi::Boolean>().Value());
    if (rc < 0) ThrowErrno(env, op, -rc, "setAutoload '" + name + "'");
  }

  void Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Live(env, "load", false);
    if (state_->loaded) return;
    if (state_->loadAttempted)
      ThrowBpf(env, "load", EALREADY, "load: a failed load cannot be retried; open " + state_->path + " again");
    state_->loadAttempted = true;
    LogCapture log;
    // The verifier gives up with EAGAIN whenever a signal is pending for this thread, and node's
    // CPU profiler sends SIGPROF every few ms: hold signals back while the kernel verifies.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    int rc = bpf_object__load(obj);
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    // libbpf parsed the kernel's BTF for this load and freed it: give the free pages back rather
    // than keep them in the malloc heap for the agent's lifetime (~4 MB of the idle agent's RSS).
    malloc_trim(0);
    if (rc == 0) {
      state_->loaded = true;
      return;
    }
    int err = -rc;
    ThrowBpf(env, "load", err, LoadErrorMessage(obj, err, log.All()), log.Tail());
  }

  // Names the program that failed (libbpf logs "prog 'x': failed to load") and explains the
  // failures this kernel is known for instead of a bare "Operation not permitted".
  std::string LoadErrorMessage(bpf_object* obj, int err, const std::string& log) {
    std::string msg = "load " + state_->path + ": " + ErrnoText(err);
    bpf_program* failed = nullptr;
    const std::string marker = "': failed to load";
    size_t at = log.rfind(marker);
    if (at != std::string::npos) {
      size_t start = log.rfind("prog '", at);
      if (start != std::string::npos) {
        std::string name = log.substr(start + 6, at - start - 6);
        failed = bpf_object__find_program_by_name(obj, name.c_str());
      }
    }
    if (failed == nullptr) {
      size_t m = log.rfind("map '");
      if (m != std::string::npos && log.find("failed to create", m) != std::string::npos) {
        size_t e = log.find('\'', m + 5);
        if (e != std::string::npos) msg += " (creating map '" + log.substr(m + 5, e - m - 5) + "')";
      }
      return msg;
    }
    std::string pname = bpf_program__name(failed);
    std::string sec = bpf_program__section_name(failed);
    msg = "load " + state_->path + ": program '" + pname + "' (" + sec + ") was rejected: " + ErrnoText(err);
    const bpf_prog_type type = bpf_program__type(failed);
    const bpf_attach_type at_type = bpf_program__expected_attach_type(failed);
    const bool trampoline = type == BPF_PROG_TYPE_TRACING &&
                            (at_type == BPF_TRACE_FENTRY || at_type == BPF_TRACE_FEXIT || at_type == BPF_MODIFY_RETURN);
    if (err == EPERM && trampoline)
      msg += ". This kernel refuses fentry/fexit/fmod_ret programs (BPF trampolines) with EPERM; use a "
             "tracepoint or kprobe variant, or setAutoload('" + pname + "', false)";
    else if (err == EPERM && type == BPF_PROG_TYPE_LSM)
      msg += ". This kernel refuses BPF-LSM programs with EPERM (BPF LSM not usable here); use a tracepoint "
             "variant, or setAutoload('" + pname + "', false)";
    else if (err == EPERM)
      msg += " (bpf(2) needs CAP_BPF/CAP_SYS_ADMIN; lockdown may also forbid this program)";
    else if (err == EACCES || err == EINVAL)
      msg += " (the verifier log tail is in libbpfLog)";
    return msg;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Live(env, "programs", false);
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_program* p = nullptr;
    bpf_object__for_each_program(p, obj) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      const char* t = libbpf_bpf_prog_type_str(bpf_program__type(p));
      o.Set("type", t ? t : "unknown");
      o.Set("fd", std::max(bpf_program__fd(p), -1));  // libbpf says -ENOENT before load
      o.Set("autoload", bpf_program__autoload(p));
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bpf_object* obj = Live(env, "maps", false);
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_map* m = nullptr;
    bpf_object__for_each_map(m, obj) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_map__name(m));
      o.Set("type", MapTypeName(bpf_map__type(m)));
      o.Set("keySize", bpf_map__key_size(m));
      o.Set("valueSize", bpf_map__value_size(m));
      o.Set("maxEntries", bpf_map__max_entries(m));
      o.Set("fd", std::max(bpf_map__fd(m), -1));
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Map(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "name");
    bpf_map* m = FindMap(env, "map", name);
    if (!state_->loaded)
      ThrowBpf(env, "map", EBADF, "map '" + name + "': load() the object before using its maps");
    return WrapObjectMap(env, state_, m);
  }

  Napi::Value AttachProg(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "prog");
    if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "spec must be an AttachSpec object");
    bpf_program* p = FindProgram(env, "attach", name);
    if (bpf_program__fd(p) < 0)
      ThrowBpf(env, "attach", EBADF,
               "attach '" + name + "': program is not loaded (" +
                   (state_->loaded ? std::string("autoload was off") : std::string("call load() first")) + ")");
    std::shared_ptr<LinkState> link = Attach(env, p, info[1].As<Napi::Object>());
    // Forget links already destroyed from JS, then remember this one for close().
    auto& v = state_->links;
    v.erase(std::remove_if(v.begin(), v.end(), [](const auto& l) { return l->destroyed; }), v.end());
    v.push_back(link);
    return WrapLink(env, link);
  }

  void Close(const Napi::CallbackInfo&) { state_->Close(); }

  Napi::Value Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), state_->path); }
  Napi::Value Loaded(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), state_->loaded); }
};

}  // namespace

void InitObject(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = NativeObject::Define(env);
  Data(env).objectCtor = Napi::Persistent(ctor);
  exports.Set("NativeObject", ctor);
}

}  // namespace pal
