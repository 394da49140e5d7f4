// State shared between an object, the maps taken from it and the links made from it.
#pragma once

#include <bpf/libbpf.h>

#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace pal {

// One attachment: a bpf_link, or a tc filter (tc filters are not links in libbpf 1.1).
struct LinkState {
  std::string program;
  std::string kind;
  bpf_link* link = nullptr;
  bool isTc = false;
  bpf_tc_hook tcHook{};
  bpf_tc_opts tcOpts{};
  bool destroyed = false;

  // Detaches; idempotent. Returns 0 or a positive errno.
  int Destroy();
};

struct ObjectState {
  bpf_object* obj = nullptr;
  std::string path;
  bool loadAttempted = false;  // libbpf allows one load attempt per object
  bool loaded = false;
  std::vector<std::shared_ptr<LinkState>> links;

  bool closed() const { return obj == nullptr; }
  // Destroys every link made from the object, then the object. Idempotent.
  void Close();
  // Dropped without close(): closes only if nothing is attached. A forgotten BpfObject must
  // not silently remove enforcement when the garbage collector runs.
  ~ObjectState();
};

// attach.cc: attaches `prog` as described by the JS AttachSpec object.
std::shared_ptr<LinkState> Attach(Napi::Env env, bpf_program* prog, const Napi::Object& spec);
// attach.cc: wraps a LinkState in a NativeLink instance.
Napi::Object WrapLink(Napi::Env env, std::shared_ptr<LinkState> link);
// map.cc: wraps one of the object's maps in a NativeMap instance.
Napi::Object WrapObjectMap(Napi::Env env, std::shared_ptr<ObjectState> owner, bpf_map* map);
// map.cc: libbpf's name for a map type ("hash", "percpu_array", ...).
std::string MapTypeName(unsigned type);

}  // namespace pal
