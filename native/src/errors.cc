// Turning errno values into JS errors, and checked argument access.
#include <cerrno>
#include <cstring>

#include "common.h"

namespace pal {

std::string ErrnoName(int err) {
  // Kernel-internal values that leak out of bpf(2) and that glibc does not name.
  switch (err) {
    case 512: return "ERESTARTSYS";
    case 524: return "ENOTSUPP";
    case 525: return "ETOOSMALL";
    default: break;
  }
  const char* name = strerrorname_np(err);
  return name ? std::string(name) : "E" + std::to_string(err);
}

std::string ErrnoText(int err) {
  if (err == 524) return "Operation not supported (kernel ENOTSUPP)";
  return std::strerror(err);
}

[[noreturn]] void ThrowBpf(Napi::Env env, const std::string& op, int err, const std::string& message,
                           const std::string& libbpfLog) {
  if (err <= 0) err = EINVAL;  // never report "success" or a negative errno
  const std::string code = ErrnoName(err);
  AddonData& d = Data(env);
  if (!d.errorFactory.IsEmpty()) {
    Napi::Value e = d.errorFactory.Call({Napi::String::New(env, message), Napi::Number::New(env, err),
                                         Napi::String::New(env, code), Napi::String::New(env, op),
                                         Napi::String::New(env, libbpfLog)});
    throw Napi::Error(env, e);
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("name", Napi::String::New(env, "BpfError"));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("op", Napi::String::New(env, op));
  e.Set("libbpfLog", Napi::String::New(env, libbpfLog));
  throw e;
}

[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& op, int err, const std::string& what,
                             const std::string& libbpfLog) {
  if (err <= 0) err = EINVAL;
  ThrowBpf(env, op, err, what + ": " + ErrnoText(err), libbpfLog);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Bytes AsBytes(Napi::Env env, napi_value v, const char* what) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  // data comes back already adjusted by the view's byte offset.
  if (v == nullptr || napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array)
    throw Napi::TypeError::New(env, std::string(what) + " must be a Buffer");
  return {static_cast<uint8_t*>(data), length};
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer");
  return AsBytes(info.Env(), info[i], what);
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= 4294967295.0) || v != static_cast<double>(static_cast<uint32_t>(v)))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be an integer in [0, 2^32)");
  return static_cast<uint32_t>(v);
}

}  // namespace pal
