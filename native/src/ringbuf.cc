// NativeRingBuffer: our own consumer of a BPF_MAP_TYPE_RINGBUF map.
// libbpf's ring_buffer__consume() consumes a record even when the callback refuses it, so a
// full output buffer would lose events. Here drain() copies committed records into a caller
// buffer and advances consumer_pos only past what it copied (or past discarded records).
//
// Layout (kernel/bpf/ringbuf.c): page 0 = consumer_pos (we write it), page 1 = producer_pos,
// then the data area mapped twice in a row, so a record never wraps from our point of view.
// Each record: u32 len (BUSY bit while reserved, DISCARD bit if dropped), u32 page offset,
// then len bytes, all rounded up to 8.
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace pal {
namespace {

constexpr uint32_t kHdr = BPF_RINGBUF_HDR_SZ;  // 8

class NativeRingBuffer : public Napi::ObjectWrap<NativeRingBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeRingBuffer",
                       {
                           InstanceMethod<&NativeRingBuffer::Drain>("drain"),
                           InstanceMethod<&NativeRingBuffer::Available>("available"),
                           InstanceMethod<&NativeRingBuffer::Close>("close"),
                           InstanceAccessor<&NativeRingBuffer::Size>("size"),
                       });
  }

  // new NativeRingBuffer(mapFd)
  explicit NativeRingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRingBuffer>(info) {
    Napi::Env env = info.Env();
    const char* op = "ringbuf.open";
    int fd = static_cast<int>(ArgU32(info, 0, "fd"));
    // Only trust sizes the kernel reports for this fd, and only for a ring buffer map.
    char target[64] = {0};
    std::string self = "/proc/self/fd/" + std::to_string(fd);
    ssize_t len = readlink(self.c_str(), target, sizeof target - 1);
    if (len <= 0 || std::string(target, static_cast<size_t>(len)) != "anon_inode:bpf-map")
      ThrowBpf(env, op, EBADF, "RingBuffer: fd " + std::to_string(fd) + " is not a BPF map");
    bpf_map_info mi{};
    __u32 infoLen = sizeof mi;
    if (bpf_obj_get_info_by_fd(fd, &mi, &infoLen) != 0) {
      int err = errno;
      ThrowErrno(env, op, err, "RingBuffer: map info");
    }
    if (mi.type != BPF_MAP_TYPE_RINGBUF)
      ThrowBpf(env, op, EINVAL, std::string("RingBuffer: map '") + mi.name + "' is not a ringbuf map");
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_ = mi.max_entries;
    mask_ = size_ - 1;

    void* c = mmap(nullptr, page_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (c == MAP_FAILED) {
      int err = errno;
      ThrowErrno(env, op, err, std::string("RingBuffer: mmap consumer page of '") + mi.name + "'");
    }
    prodLen_ = page_ + 2 * static_cast<size_t>(size_);
    void* p = mmap(nullptr, prodLen_, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(page_));
    if (p == MAP_FAILED) {
      int err = errno;
      munmap(c, page_);
      ThrowErrno(env, op, err, std::string("RingBuffer: mmap data area of '") + mi.name + "'");
    }
    cons_ = static_cast<uint8_t*>(c);
    prod_ = static_cast<uint8_t*>(p);
    data_ = prod_ + page_;
  }

  ~NativeRingBuffer() override { Unmap(); }

 private:
  uint8_t* cons_ = nullptr;  // consumer page: consumer_pos at offset 0
  uint8_t* prod_ = nullptr;  // producer page: producer_pos at offset 0
  uint8_t* data_ = nullptr;
  size_t page_ = 0, prodLen_ = 0;
  uint64_t size_ = 0, mask_ = 0;

  uint64_t* ConsPos() const { return reinterpret_cast<uint64_t*>(cons_); }
  uint64_t* ProdPos() const { return reinterpret_cast<uint64_t*>(prod_); }

  void Unmap() {
    if (cons_ != nullptr) munmap(cons_, page_);
    if (prod_ != nullptr) munmap(prod_, prodLen_);
    cons_ = prod_ = data_ = nullptr;
  }

  void Live(Napi::Env env, const char* op) {
    if (cons_ == nullptr) ThrowBpf(env, op, EBADF, std::string(op) + ": ring buffer is closed");
  }

  // drain(out): frames [u32 len][u32 0][record][pad to 8]; returns bytes written.
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env, "ringbuf.drain");
    Bytes out = ArgBytes(info, 0, "out");
    uint8_t* dst = out.data;
    const size_t cap = out.size;
    size_t w = 0;

    uint64_t cons = __atomic_load_n(ConsPos(), __ATOMIC_RELAXED);  // only we write it
    uint64_t prod = __atomic_load_n(ProdPos(), __ATOMIC_ACQUIRE);
    uint32_t tooBig = 0;
    while (cons < prod) {
      const uint8_t* rec = data_ + (cons & mask_);
      // Acquire pairs with the producer's release of len on commit: the body is visible.
      uint32_t len = __atomic_load_n(reinterpret_cast<const uint32_t*>(rec), __ATOMIC_ACQUIRE);
      if (len & BPF_RINGBUF_BUSY_BIT) break;  // reserved, not committed yet: keep order
      const uint32_t rlen = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      const uint64_t total = (static_cast<uint64_t>(rlen) + kHdr + 7) & ~7ull;
      if (total > size_) ThrowBpf(env, "ringbuf.drain", EIO, "ring buffer record header is corrupt");
      if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
        if (w + total > cap) {
          if (w == 0) tooBig = rlen;
          break;
        }
        const uint32_t frame[2] = {rlen, 0};
        std::memcpy(dst + w, frame, sizeof frame);
        std::memcpy(dst + w + kHdr, rec + kHdr, rlen);
        std::memset(dst + w + kHdr + rlen, 0, total - kHdr - rlen);
        w += total;
      }
      cons += total;
      if (cons >= prod) prod = __atomic_load_n(ProdPos(), __ATOMIC_ACQUIRE);
    }
    // Release: our reads of the records happen before the producer may reuse their space.
    __atomic_store_n(ConsPos(), cons, __ATOMIC_RELEASE);
    if (tooBig != 0)
      ThrowBpf(env, "ringbuf.drain", ENOSPC,
               "ringbuf.drain: next record (" + std::to_string(tooBig) + " bytes + 8 header) does not fit in an out buffer of " +
                   std::to_string(cap) + " bytes");
    return Napi::Number::New(env, static_cast<double>(w));
  }

  // Bytes between consumer and producer: committed, reserved and discarded records alike.
  Napi::Value Available(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env, "ringbuf.available");
    uint64_t prod = __atomic_load_n(ProdPos(), __ATOMIC_ACQUIRE);
    uint64_t cons = __atomic_load_n(ConsPos(), __ATOMIC_RELAXED);
    return Napi::Number::New(env, static_cast<double>(prod - cons));
  }

  void Close(const Napi::CallbackInfo&) { Unmap(); }

  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(size_)); }
};

}  // namespace

void InitRingBuffer(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeRingBuffer", NativeRingBuffer::Define(env));
}

}  // namespace pal
