// Shared internals of the addon: error reporting, libbpf log capture, per-environment data.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace pal {

// ---- libbpf log capture (log.cc) -------------------------------------------------------------

// Installs our libbpf print callback once per process. libbpf's own default writes to stderr;
// ours keeps the lines of the current operation so that errors can carry them.
void InstallLibbpfPrint();

// While alive, libbpf output on this thread is collected for the current operation. Nested
// scopes restore the outer buffer. Thread-local, so worker threads do not mix their logs.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  // The last `max` bytes of what was captured, cut at a line start.
  std::string Tail(size_t max = 4096) const;
  const std::string& All() const;

 private:
  std::string saved_;
  bool savedActive_;
};

// ---- errors (errors.cc) ----------------------------------------------------------------------

// Name of a positive errno ("EPERM"); libbpf/kernel-internal values get their kernel names.
std::string ErrnoName(int err);
std::string ErrnoText(int err);

// Throws a BpfError (the class registered by the TS facade, or a plain Error with the same
// fields): message, errno (positive), code, op, libbpfLog.
[[noreturn]] void ThrowBpf(Napi::Env env, const std::string& op, int err, const std::string& message,
                           const std::string& libbpfLog = std::string());

// Same, with the message suffixed by ": <strerror>".
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& op, int err, const std::string& what,
                             const std::string& libbpfLog = std::string());

// ---- argument helpers (errors.cc) -------------------------------------------------------------

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what);
// Bytes of a Buffer/Uint8Array argument, without copying.
struct Bytes {
  uint8_t* data;
  size_t size;
};
// A Uint8Array (so any Buffer), else TypeError. One napi call: drain() is on the hot path.
Bytes AsBytes(Napi::Env env, napi_value v, const char* what);
Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what);
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* what);

// ---- per-environment data (addon.cc) ----------------------------------------------------------

struct AddonData {
  Napi::FunctionReference errorFactory;  // (message, errno, code, op, libbpfLog) => Error
  Napi::FunctionReference objectCtor;
  Napi::FunctionReference mapCtor;
  Napi::FunctionReference linkCtor;
};
AddonData& Data(Napi::Env env);

// ---- class registration (one per file) -------------------------------------------------------

void InitObject(Napi::Env env, Napi::Object exports);
void InitLink(Napi::Env env, Napi::Object exports);
void InitMap(Napi::Env env, Napi::Object exports);
void InitRingBuffer(Napi::Env env, Napi::Object exports);
void InitProbe(Napi::Env env, Napi::Object exports);

}  // namespace pal
