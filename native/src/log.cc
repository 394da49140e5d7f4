// libbpf print callback: collects libbpf's messages during one addon operation so that the
// error thrown for a failure carries them (for a failed load that includes the verifier log).
#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "common.h"

namespace pal {
namespace {

// Bound on what one operation keeps: a verifier log can be megabytes, and only its tail
// (where the verifier says what it rejected) is useful.
constexpr size_t kKeep = 64 * 1024;
constexpr size_t kTrimTo = 16 * 1024;

struct Capture {
  bool active = false;
  std::string buf;
};
thread_local Capture tlsCapture;

bool DebugEcho() {
  static const bool on = [] {
    const char* v = std::getenv("PALISADE_LIBBPF_DEBUG");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return on;
}

int Print(enum libbpf_print_level level, const char* fmt, va_list args) {
  Capture& c = tlsCapture;
  const bool echo = DebugEcho();
  // Debug lines are noise in an error report; warnings outside any operation of ours still
  // go to stderr so they are not lost.
  if (level == LIBBPF_DEBUG && !echo) return 0;
  if (!c.active && !echo && level != LIBBPF_WARN) return 0;

  va_list copy;
  va_copy(copy, args);
  char small[512];
  int n = vsnprintf(small, sizeof small, fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  std::string line;
  if (static_cast<size_t>(n) < sizeof small) {
    line.assign(small, static_cast<size_t>(n));
  } else {
    line.resize(static_cast<size_t>(n) + 1);
    vsnprintf(line.data(), line.size(), fmt, args);
    line.resize(static_cast<size_t>(n));
  }

  if (echo || !c.active) fprintf(stderr, "libbpf: %s", line.c_str());
  if (c.active) {
    c.buf += line;
    if (c.buf.size() > kKeep) c.buf.erase(0, c.buf.size() - kTrimTo);
  }
  return 0;
}

}  // namespace

void InstallLibbpfPrint() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(Print); });
}

LogCapture::LogCapture() : savedActive_(tlsCapture.active) {
  saved_.swap(tlsCapture.buf);
  tlsCapture.active = true;
}

LogCapture::~LogCapture() {
  tlsCapture.buf.swap(saved_);
  tlsCapture.active = savedActive_;
}

const std::string& LogCapture::All() const { return tlsCapture.buf; }

std::string LogCapture::Tail(size_t max) const {
  const std::string& b = tlsCapture.buf;
  if (b.size() <= max) return b;
  size_t start = b.size() - max;
  size_t nl = b.find('\n', start);
  if (nl != std::string::npos && nl + 1 < b.size()) start = nl + 1;
  return "...\n" + b.substr(start);
}

}  // namespace pal
