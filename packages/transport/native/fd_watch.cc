// watchFd: readiness of kick eventfds and connection sockets via uv_poll on the calling
// thread's own libuv loop (napi_get_uv_event_loop), so it works the same on the main thread and
// in worker_threads/piscina workers, without busy polling or blocking reads.
//
// Lifetime: an active watch holds a strong reference to its JS handle (so it cannot be GC'd
// while the loop may still call it). stop() is idempotent; it releases the JS references at once
// and hands the uv_poll_t to uv_close, whose callback frees only C++ memory, because at thread
// exit that callback runs after Node-API's own teardown. When a worker exits with watches still
// active, the env cleanup hook stops them.
#include <uv.h>

#include <vector>

#include "addon.h"

class FdWatch : public Napi::ObjectWrap<FdWatch> {
 public:
  // new FdWatch(fd, eventsMask /* 1 readable | 2 writable */, callback(readable, writable))
  explicit FdWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatch>(info) {
    Napi::Env env = info.Env();
    int fd = ArgFd(info, 0, "watchFd");
    int events = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    if (events < 1 || events > (UV_READABLE | UV_WRITABLE)) ThrowInvalid(env, "watchFd", "bad events mask");
    if (!info[2].IsFunction()) ThrowInvalid(env, "watchFd", "callback must be a function");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) ThrowInvalid(env, "watchFd", "no event loop");
    auto* poll = new uv_poll_t;
    int rc = uv_poll_init(loop, poll, fd);
    if (rc != 0) {
      delete poll;
      ThrowErrno(env, "uv_poll_init", -rc);
    }
    rc = uv_poll_start(poll, events, OnPoll);
    if (rc != 0) {
      poll->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      ThrowErrno(env, "uv_poll_start", -rc);
    }
    poll->data = this;
    poll_ = poll;
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    napi_value name = Napi::String::New(env, "vtcon.watchFd");
    napi_async_init(env, nullptr, name, &asyncContext_);
    data_ = env.GetInstanceData<AddonData>();
    data_->activeWatches.insert(this);
    Ref();  // keep the JS handle alive while the loop can call us
  }

  ~FdWatch() override {
    // Normally already stopped (an active watch is strongly referenced); be safe anyway.
    if (poll_ != nullptr) CloseHandle();
  }

  void Stop() {
    if (poll_ == nullptr) return;
    CloseHandle();
    callback_.Reset();
    napi_async_destroy(Env(), asyncContext_);
    asyncContext_ = nullptr;
    data_->activeWatches.erase(this);
    Unref();
  }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatch", {InstanceMethod<&FdWatch::StopMethod>("stop")});
  }

 private:
  Napi::Value StopMethod(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  // uv_poll_stop never fails; if the fd was already closed, libuv's epoll removal just fails quietly.
  void CloseHandle() {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<FdWatch*>(handle->data);
    if (self == nullptr) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    // On an error (e.g. EBADF) libuv stops polling; report both directions once so the caller's
    // next read/write surfaces the real errno, then stop the watch.
    bool failed = status < 0;
    bool readable = failed || (events & UV_READABLE) != 0;
    bool writable = failed || (events & UV_WRITABLE) != 0;
    try {
      self->callback_.MakeCallback(self->Value(), {Napi::Boolean::New(env, readable), Napi::Boolean::New(env, writable)},
                                   self->asyncContext_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());  // same as a throwing EventEmitter listener: 'uncaughtException'
    }
    if (failed) self->Stop();
  }

  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  napi_async_context asyncContext_ = nullptr;
  AddonData* data_ = nullptr;
};

void InitFdWatch(Napi::Env env, Napi::Object exports, AddonData* data) {
  exports.Set("FdWatch", FdWatch::Define(env));
  // Worker exit / env teardown: stop what JS left running before Node-API tears itself down.
  env.AddCleanupHook([data]() {
    std::vector<FdWatch*> active(data->activeWatches.begin(), data->activeWatches.end());
    for (FdWatch* w : active) w->Stop();
  });
}
