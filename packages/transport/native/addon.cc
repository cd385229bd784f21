// Module entry, error construction and argument checks shared by the syscall wrappers.
#include "addon.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

static AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

static Napi::Error MakeNativeError(Napi::Env env, const char* reason, const char* syscall,
                                   const char* code, int err, const std::string& detail) {
  AddonData* data = Data(env);
  if (data != nullptr && !data->errorClass.IsEmpty()) {
    Napi::Object e = data->errorClass.New({Napi::String::New(env, reason), Napi::String::New(env, syscall),
                                           Napi::String::New(env, code), Napi::Number::New(env, err),
                                           Napi::String::New(env, detail)});
    return Napi::Error(env, e);
  }
  // native.ts registers NativeError at load; this fallback only matters if it did not.
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + code + " (" + detail + ")");
  e.Set("reason", reason);
  e.Set("syscall", syscall);
  e.Set("code", code);
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

void ThrowErrno(Napi::Env env, const char* syscall, int err) {
  char fallback[16];
  const char* code = strerrorname_np(err);  // glibc >= 2.32: "EBADF"
  if (code == nullptr) {
    std::snprintf(fallback, sizeof fallback, "E%d", err);
    code = fallback;
  }
  throw MakeNativeError(env, "SYSCALL_FAILED", syscall, code, err, std::strerror(err));
}

void ThrowInvalid(Napi::Env env, const char* function, const char* why) {
  throw MakeNativeError(env, "INVALID_ARGUMENT", function, "EINVAL", EINVAL, why);
}

int FdValue(Napi::Env env, Napi::Value value, const char* function) {
  if (!value.IsNumber()) ThrowInvalid(env, function, "fd must be a number");
  double v = value.As<Napi::Number>().DoubleValue();
  // -1 is let through on purpose: the kernel answers EBADF, which callers and tests rely on.
  if (v != std::trunc(v) || v < -1 || v > INT32_MAX) ThrowInvalid(env, function, "fd must be an int32");
  return static_cast<int>(v);
}

int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* function) {
  return FdValue(info.Env(), info[i], function);
}

int64_t ArgSize(const Napi::CallbackInfo& info, size_t i, const char* function) {
  if (!info[i].IsNumber()) ThrowInvalid(info.Env(), function, "size/offset must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (v != std::trunc(v) || v < 0 || v > 9007199254740991.0) {
    ThrowInvalid(info.Env(), function, "size/offset must be a non-negative safe integer");
  }
  return static_cast<int64_t>(v);
}

// setErrorClass(NativeError): called once per thread by native.ts so errors are real NativeErrors.
static Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowInvalid(info.Env(), "setErrorClass", "expected a constructor");
  Data(info.Env())->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted by Node-API when this env is torn down
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  InitSyscalls(env, exports);
  InitFdWatch(env, exports, data);
  return exports;
}

NODE_API_MODULE(vtcon_native, Init)
