// Shared declarations of the vtcon native addon. The addon only wraps Linux syscalls; no
// vhost-user knowledge lives here. All functions run on the calling JS thread (main thread or a
// worker_threads/piscina worker); each thread loads its own instance of the addon.
#pragma once

#include <napi.h>

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

class FdWatch;

// Per-environment (per thread) state: set through napi instance data so workers do not share it.
struct AddonData {
  Napi::FunctionReference errorClass;  // NativeError from native.ts; builds every thrown error
  std::set<FdWatch*> activeWatches;    // stopped by the env cleanup hook when the thread exits
  // (mapping id, bytes) released by this env and reported to V8 as external memory until the
  // SAB is collected (syscalls.cc ReleaseMapping / ReconcileReleased).
  std::vector<std::pair<uint64_t, size_t>> releasedPendingGc;
};

// Throws NativeError(reason 'SYSCALL_FAILED') carrying the errno name, number and syscall.
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int err);
// Throws NativeError(reason 'INVALID_ARGUMENT') for arguments the syscall would misread.
[[noreturn]] void ThrowInvalid(Napi::Env env, const char* function, const char* why);

// Argument helpers: validate before a syscall sees the value.
int FdValue(Napi::Env env, Napi::Value value, const char* function);
int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* function);
int64_t ArgSize(const Napi::CallbackInfo& info, size_t i, const char* function);

// v8_bridge.cc: the only code that relies on napi_value being a v8::Local (not ABI-stable).
using UnmapDeleter = void (*)(void* data, size_t length, void* deleterData);
napi_value NewExternalSharedArrayBuffer(void* data, size_t length, UnmapDeleter deleter);
bool GetSharedArrayBufferRange(napi_value value, void** data, size_t* length);

// Module sections: each registers its exports.
void InitSyscalls(Napi::Env env, Napi::Object exports);
void InitFdWatch(Napi::Env env, Napi::Object exports, AddonData* data);
