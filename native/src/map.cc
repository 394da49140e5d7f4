// NativeMap: element access on one BPF map, from a loaded object or from a bpffs pin.
// Every key and value buffer is checked against the map's sizes before it reaches bpf(2):
// the kernel copies value_size bytes (per CPU for per-CPU maps) into whatever it is given.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "kernelfs.h"
#include "object.h"

namespace pal {
namespace {

constexpr int kENOTSUPP = 524;  // kernel-internal "operation not supported", seen from bpf(2)

struct MapHandle {
  std::shared_ptr<ObjectState> owner;  // for maps of an object; null for pinned maps
  int fd = -1;
  bool ownsFd = false;
  bool released = false;
  std::string name;
  unsigned type = 0;
  uint32_t keySize = 0, valueSize = 0, maxEntries = 0, flags = 0;
  bool percpu = false;
  uint32_t cpus = 1;
  size_t valueStride = 0;  // bytes of one value buffer as bpf(2) reads/writes it

  ~MapHandle() { Release(); }
  void Release() {
    if (ownsFd && fd >= 0) close(fd);
    fd = -1;
    released = true;
  }
};

bool IsPerCpu(unsigned type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// Per-CPU values are laid out as one 8-byte aligned slot per possible CPU.
void ComputeStride(MapHandle& h) {
  h.percpu = IsPerCpu(h.type);
  int n = libbpf_num_possible_cpus();
  h.cpus = n > 0 ? static_cast<uint32_t>(n) : 1;
  h.valueStride = h.percpu ? ((h.valueSize + 7u) & ~7u) * static_cast<size_t>(h.cpus) : h.valueSize;
}

std::string BpffsHint(const std::string& path) {
  return OnBpffs(path) ? "" : " (not on a bpf file system; pins live under a bpffs mount such as /sys/fs/bpf)";
}

// Hash-map batches at least this long are written as two halves from two threads (UpdateBatchHalves).
constexpr size_t kParallelBatch = 2048;

bool BatchUnsupported(int err) { return err == EINVAL || err == ENOTSUP || err == kENOTSUPP; }

class NativeMap : public Napi::ObjectWrap<NativeMap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeMap",
                       {
                           StaticMethod<&NativeMap::FromPinned>("fromPinned"),
                           InstanceAccessor<&NativeMap::Info>("info"),
                           InstanceAccessor<&NativeMap::PerCpu>("perCpu"),
                           InstanceAccessor<&NativeMap::Cpus>("cpus"),
                           InstanceAccessor<&NativeMap::ValueBufferSize>("valueBufferSize"),
                           InstanceMethod<&NativeMap::Lookup>("lookup"),
                           InstanceMethod<&NativeMap::Update>("update"),
                           InstanceMethod<&NativeMap::Delete>("delete"),
                           InstanceMethod<&NativeMap::Keys>("keys"),
                           InstanceMethod<&NativeMap::LookupBatch>("lookupBatch"),
                           InstanceMethod<&NativeMap::UpdateBatchFlat>("updateBatchFlat"),
                           InstanceMethod<&NativeMap::UpdateBatch>("updateBatch"),
                           InstanceMethod<&NativeMap::Pin>("pin"),
                           InstanceMethod<&NativeMap::Unpin>("unpin"),
                           InstanceMethod<&NativeMap::Close>("close"),
                           InstanceAccessor<&NativeMap::FdGetter>("fd"),
                       });
  }

  explicit NativeMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "use BpfObject.map() or BpfMap.fromPinned()");
    h_ = *info[0].As<Napi::External<std::shared_ptr<MapHandle>>>().Data();
  }

 private:
  std::shared_ptr<MapHandle> h_;

  // The fd, or an error when the handle or its object was closed.
  int Fd(Napi::Env env, const char* op) {
    if (h_->released) ThrowBpf(env, op, EBADF, std::string(op) + ": map '" + h_->name + "' is closed");
    if (h_->owner && h_->owner->closed())
      ThrowBpf(env, op, EBADF, std::string(op) + ": map '" + h_->name + "' used after its object was closed");
    return h_->fd;
  }

  const uint8_t* CheckedKey(const Napi::CallbackInfo& info, size_t i, const char* op) {
    Bytes k = ArgBytes(info, i, "key");
    if (k.size != h_->keySize)
      ThrowBpf(info.Env(), op, EINVAL,
               std::string(op) + ": map '" + h_->name + "': key must be " + std::to_string(h_->keySize) +
                   " bytes, got " + std::to_string(k.size));
    return k.data;
  }

  std::string ValueShape() const {
    if (!h_->percpu) return std::to_string(h_->valueStride) + " bytes";
    return std::to_string(h_->valueStride) + " bytes (" + std::to_string((h_->valueSize + 7u) & ~7u) + " per CPU x " +
           std::to_string(h_->cpus) + " possible CPUs)";
  }

  const uint8_t* CheckedValue(Napi::Env env, const Bytes& v, const char* op) {
    if (v.size != h_->valueStride)
      ThrowBpf(env, op, EINVAL,
               std::string(op) + ": map '" + h_->name + "': value must be " + ValueShape() + ", got " +
                   std::to_string(v.size));
    return v.data;
  }

  static uint64_t ParseFlags(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || info[i].IsUndefined()) return BPF_ANY;
    std::string f = info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
    if (f == "any") return BPF_ANY;
    if (f == "noexist") return BPF_NOEXIST;
    if (f == "exist") return BPF_EXIST;
    throw Napi::TypeError::New(info.Env(), "flags must be 'any', 'noexist' or 'exist'");
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", h_->name);
    o.Set("type", MapTypeName(h_->type));
    o.Set("keySize", h_->keySize);
    o.Set("valueSize", h_->valueSize);
    o.Set("maxEntries", h_->maxEntries);
    o.Set("fd", h_->fd);
    return o;
  }
  Napi::Value PerCpu(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), h_->percpu); }
  Napi::Value Cpus(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), h_->cpus); }
  Napi::Value ValueBufferSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(h_->valueStride));
  }
  // Checked: throws after close, so callers (RingBuffer) never act on a stale fd number.
  Napi::Value FdGetter(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Fd(info.Env(), "map.fd")); }

  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "map.lookup";
    int fd = Fd(env, op);
    const uint8_t* key = CheckedKey(info, 0, op);
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, h_->valueStride);
    if (bpf_map_lookup_elem(fd, key, out.Data()) == 0) return out;
    int err = errno;
    if (err == ENOENT) return env.Null();
    ThrowErrno(env, op, err, "lookup in map '" + h_->name + "'");
  }

  void Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "map.update";
    int fd = Fd(env, op);
    const uint8_t* key = CheckedKey(info, 0, op);
    const uint8_t* value = CheckedValue(env, ArgBytes(info, 1, "value"), op);
    uint64_t flags = ParseFlags(info, 2);
    if (bpf_map_update_elem(fd, key, value, flags) != 0) {
      int err = errno;
      ThrowErrno(env, op, err, "update map '" + h_->name + "'");
    }
  }

  Napi::Value Delete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "map.delete";
    int fd = Fd(env, op);
    const uint8_t* key = CheckedKey(info, 0, op);
    if (bpf_map_delete_elem(fd, key) == 0) return Napi::Boolean::New(env, true);
    int err = errno;
    if (err == ENOENT) return Napi::Boolean::New(env, false);
    ThrowErrno(env, op, err, "delete from map '" + h_->name + "'");
  }

  // All keys via BPF_MAP_GET_NEXT_KEY. Bounded: a hash map that is modified while we walk it
  // can restart the walk from its first key.
  std::vector<uint8_t> CollectKeys(Napi::Env env, int fd, const char* op, size_t* count) {
    const size_t ks = h_->keySize;
    std::vector<uint8_t> keys;
    std::vector<uint8_t> cur(std::max<size_t>(ks, 1)), next(std::max<size_t>(ks, 1));
    const size_t limit = static_cast<size_t>(h_->maxEntries) * 2 + 16;
    size_t n = 0;
    const void* prev = nullptr;
    while (n < limit) {
      if (bpf_map_get_next_key(fd, prev, next.data()) != 0) {
        int err = errno;
        if (err == ENOENT) break;
        ThrowErrno(env, op, err, "iterate map '" + h_->name + "'");
      }
      keys.insert(keys.end(), next.begin(), next.begin() + ks);
      n++;
      cur.swap(next);
      prev = cur.data();
    }
    *count = n;
    return keys;
  }

  Napi::Value Keys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "map.keys";
    int fd = Fd(env, op);
    size_t n = 0;
    std::vector<uint8_t> keys = CollectKeys(env, fd, op, &n);
    Napi::Array out = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++)
      out.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, keys.data() + i * h_->keySize, h_->keySize));
    return out;
  }

  Napi::Value BatchResult(Napi::Env env, const std::vector<uint8_t>& keys, const std::vector<uint8_t>& values,
                          size_t n) {
    const size_t ks = h_->keySize, vs = h_->valueStride;
    Napi::Array k = Napi::Array::New(env, n), v = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
      k.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, keys.data() + i * ks, ks));
      v.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, values.data() + i * vs, vs));
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("keys", k);
    o.Set("values", v);
    return o;
  }

  // Every entry through BPF_MAP_LOOKUP_BATCH; map types without batch support fall back to
  // get_next_key + lookup.
  Napi::Value LookupBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "map.lookupBatch";
    int fd = Fd(env, op);
    const size_t ks = h_->keySize, vs = h_->valueStride;
    // The batch cursor is a u32 bucket for hash maps and a key for the generic implementation.
    std::vector<uint8_t> inBatch(std::max<size_t>(ks, 8)), outBatch(std::max<size_t>(ks, 8));
    std::vector<uint8_t> keys, values;
    size_t n = 0;
    size_t chunk = std::clamp<size_t>(h_->maxEntries, 1, 4096);
    bool first = true;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    for (;;) {
      keys.resize((n + chunk) * ks);
      values.resize((n + chunk) * vs);
      __u32 count = static_cast<__u32>(chunk);
      int rc = bpf_map_lookup_batch(fd, first ? nullptr : inBatch.data(), outBatch.data(), keys.data() + n * ks,
                                    values.data() + n * vs, &count, &opts);
      int err = rc < 0 ? errno : 0;
      if (rc < 0 && err != ENOENT) {
        if (err == ENOSPC && chunk < (1u << 20)) {  // one hash bucket holds more than `chunk`
          chunk *= 2;
          continue;
        }
        if (first && BatchUnsupported(err)) return LookupByIteration(env, fd, op);
        ThrowErrno(env, op, err, "batch lookup in map '" + h_->name + "'");
      }
      n += count;
      if (rc < 0) break;  // ENOENT: no more entries (count may still be > 0)
      inBatch.swap(outBatch);
      first = false;
    }
    return BatchResult(env, keys, values, n);
  }

  Napi::Value LookupByIteration(Napi::Env env, int fd, const char* op) {
    size_t nk = 0;
    std::vector<uint8_t> keys = CollectKeys(env, fd, op, &nk);
    const size_t ks = h_->keySize, vs = h_->valueStride;
    std::vector<uint8_t> outKeys, values(nk * vs);
    outKeys.reserve(nk * ks);
    size_t n = 0;
    for (size_t i = 0; i < nk; i++) {
      const uint8_t* k = keys.data() + i * ks;
      if (bpf_map_lookup_elem(fd, k, values.data() + n * vs) != 0) {
        int err = errno;
        if (err == ENOENT) continue;  // deleted while we walked
        ThrowErrno(env, op, err, "lookup in map '" + h_->name + "'");
      }
      outKeys.insert(outKeys.end(), k, k + ks);
      n++;
    }
    return BatchResult(env, outKeys, values, n);
  }

  void UpdateBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "map.updateBatch";
    int fd = Fd(env, op);
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray())
      throw Napi::TypeError::New(env, "updateBatch expects (keys: Buffer[], values: Buffer[])");
    Napi::Array ka = info[0].As<Napi::Array>(), va = info[1].As<Napi::Array>();
    if (ka.Length() != va.Length())
      ThrowBpf(env, op, EINVAL,
               "updateBatch: " + std::to_string(ka.Length()) + " keys but " + std::to_string(va.Length()) + " values");
    uint64_t flags = ParseFlags(info, 2);
    const size_t n = ka.Length(), ks = h_->keySize, vs = h_->valueStride;
    if (n == 0) return;
    std::vector<uint8_t> keys(n * ks), values(n * vs);
    for (size_t i = 0; i < n; i++) {
      Napi::Value k = ka.Get(static_cast<uint32_t>(i)), v = va.Get(static_cast<uint32_t>(i));
      Bytes kb = AsBytes(env, k, "updateBatch: each key");
      Bytes vb = AsBytes(env, v, "updateBatch: each value");
      if (kb.size != ks)
        ThrowBpf(env, op, EINVAL,
                 "updateBatch: map '" + h_->name + "': key " + std::to_string(i) + " must be " + std::to_string(ks) +
                     " bytes, got " + std::to_string(kb.size));
      if (vb.size != vs)
        ThrowBpf(env, op, EINVAL,
                 "updateBatch: map '" + h_->name + "': value " + std::to_string(i) + " must be " + ValueShape() +
                     ", got " + std::to_string(vb.size));
      std::memcpy(keys.data() + i * ks, kb.data, ks);
      std::memcpy(values.data() + i * vs, vb.data, vs);
    }
    WriteBatch(env, op, fd, keys.data(), values.data(), n, flags);
  }

  // updateBatch over n keys and n values packed back to back in two buffers: no Buffer per entry
  // to create in JS or to unwrap here (bulk policy loads write tens of thousands at once).
  void UpdateBatchFlat(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "map.updateBatchFlat";
    int fd = Fd(env, op);
    Bytes kb = ArgBytes(info, 0, "keys");
    Bytes vb = ArgBytes(info, 1, "values");
    uint64_t flags = ParseFlags(info, 2);
    const size_t ks = h_->keySize, vs = h_->valueStride;
    const size_t n = kb.size / ks;
    if (kb.size % ks != 0 || vb.size != n * vs)
      ThrowBpf(env, op, EINVAL,
               "updateBatchFlat: map '" + h_->name + "': " + std::to_string(kb.size) + " key bytes and " +
                   std::to_string(vb.size) + " value bytes are not n keys of " + std::to_string(ks) + " and n values of " +
                   std::to_string(vs) + " bytes");
    if (n == 0) return;
    WriteBatch(env, op, fd, kb.data, vb.data, n, flags);
  }

  // One batch update; a large one into a hash map as two halves written at once from two threads. The
  // kernel's hash maps lock per bucket, so two writers run side by side (a bulk load of 50,000 entries
  // spends most of its kernel time here), and which key of a hash map lands first does not matter.
  // Not a trie: its writes go most specific first, in the caller's order. Returns 0 or the first errno.
  int UpdateBatchHalves(int fd, const uint8_t* keys, const uint8_t* values, size_t n, uint64_t flags) {
    const size_t ks = h_->keySize, vs = h_->valueStride;
    auto write = [fd, flags](const uint8_t* k, const uint8_t* v, size_t count) -> int {
      LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags);
      __u32 c = static_cast<__u32>(count);
      return bpf_map_update_batch(fd, k, v, &c, &opts) == 0 ? 0 : errno;
    };
    const bool hash = h_->type == BPF_MAP_TYPE_HASH || h_->type == BPF_MAP_TYPE_PERCPU_HASH || h_->type == BPF_MAP_TYPE_LRU_HASH ||
                      h_->type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
    if (!hash || n < kParallelBatch || std::thread::hardware_concurrency() < 2) return write(keys, values, n);
    const size_t half = n / 2;
    int second = 0;
    std::thread t([&] { second = write(keys + half * ks, values + half * vs, n - half); });
    int first = write(keys, values, half);
    t.join();
    return first != 0 ? first : second;
  }

  void WriteBatch(Napi::Env env, const char* op, int fd, const uint8_t* keys, const uint8_t* values, size_t n,
                  uint64_t flags) {
    const size_t ks = h_->keySize, vs = h_->valueStride;
    // The kernel's batch update takes BPF_F_LOCK only (EINVAL for BPF_NOEXIST/BPF_EXIST): those go
    // element by element straight away.
    if ((flags & (BPF_NOEXIST | BPF_EXIST)) == 0) {
      int err = UpdateBatchHalves(fd, keys, values, n, flags);
      if (err == 0) return;
      if (!BatchUnsupported(err))
        ThrowErrno(env, op, err, "batch update of map '" + h_->name + "' (" + std::to_string(n) + " entries)");
    }
    // Per element; the kernel does not report reliably how far a rejected batch got, so start over.
    for (size_t i = 0; i < n; i++) {
      if (bpf_map_update_elem(fd, keys + i * ks, values + i * vs, flags) != 0) {
        int e = errno;
        ThrowErrno(env, op, e, "update map '" + h_->name + "' (entry " + std::to_string(i) + ")");
      }
    }
  }

  void Pin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Fd(env, "map.pin");
    std::string path = ArgString(info, 0, "path");
    if (bpf_obj_pin(fd, path.c_str()) != 0) {
      int err = errno;
      ThrowErrno(env, "map.pin", err, "pin map '" + h_->name + "' at " + path + BpffsHint(path));
    }
  }

  void Unpin(const Napi::CallbackInfo& info) {
    std::string path = ArgString(info, 0, "path");
    if (unlink(path.c_str()) != 0) {
      int err = errno;
      ThrowErrno(info.Env(), "map.unpin", err, "unpin " + path);
    }
  }

  void Close(const Napi::CallbackInfo&) { h_->Release(); }

  static Napi::Value FromPinned(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "map.fromPinned";
    std::string path = ArgString(info, 0, "path");
    LogCapture log;
    auto h = std::make_shared<MapHandle>();
    h->fd = bpf_obj_get(path.c_str());
    if (h->fd < 0) {
      int err = errno;
      ThrowErrno(env, op, err, "open pinned map " + path + BpffsHint(path), log.Tail());
    }
    h->ownsFd = true;
    // bpf_obj_get_info_by_fd fills whatever info struct the fd's kind has: make sure it is a map.
    char link[64] = {0};
    std::string self = "/proc/self/fd/" + std::to_string(h->fd);
    ssize_t len = readlink(self.c_str(), link, sizeof link - 1);
    if (len <= 0 || std::string(link, static_cast<size_t>(len)) != "anon_inode:bpf-map")
      ThrowBpf(env, op, EINVAL, "open pinned map " + path + ": the pinned object is not a map");
    bpf_map_info mi{};
    __u32 infoLen = sizeof mi;
    if (bpf_obj_get_info_by_fd(h->fd, &mi, &infoLen) != 0) {
      int err = errno;
      ThrowErrno(env, op, err, "read info of pinned map " + path);
    }
    h->name = mi.name;
    h->type = mi.type;
    h->keySize = mi.key_size;
    h->valueSize = mi.value_size;
    h->maxEntries = mi.max_entries;
    h->flags = mi.map_flags;
    ComputeStride(*h);
    return Data(env).mapCtor.New({Napi::External<std::shared_ptr<MapHandle>>::New(env, &h)});
  }
};

}  // namespace

std::string MapTypeName(unsigned type) {
  const char* s = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type));
  return s ? s : "unknown(" + std::to_string(type) + ")";
}

Napi::Object WrapObjectMap(Napi::Env env, std::shared_ptr<ObjectState> owner, bpf_map* map) {
  auto h = std::make_shared<MapHandle>();
  h->owner = std::move(owner);
  h->fd = bpf_map__fd(map);
  h->name = bpf_map__name(map);
  h->type = bpf_map__type(map);
  h->keySize = bpf_map__key_size(map);
  h->valueSize = bpf_map__value_size(map);
  h->maxEntries = bpf_map__max_entries(map);
  h->flags = bpf_map__map_flags(map);
  ComputeStride(*h);
  return Data(env).mapCtor.New({Napi::External<std::shared_ptr<MapHandle>>::New(env, &h)});
}

void InitMap(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = NativeMap::Define(env);
  Data(env).mapCtor = Napi::Persistent(ctor);
  exports.Set("NativeMap", ctor);
}

}  // namespace pal
