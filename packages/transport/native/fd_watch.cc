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
    data_->activeWatches.erase(this);
    // Inside our own callback the async context is still entered (destroying it there breaks
    // Node's callback scope: microtasks never run) and we must stay alive: OnPoll finishes later.
    if (!inCallback_) FinishStop();
  }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatch", {InstanceMethod<&FdWatch::StopMethod>("stop")});
  }

 private:
  Napi::Value StopMethod(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  void FinishStop() {
    if (asyncContext_ == nullptr) return;
    napi_async_destroy(Env(), asyncContext_);
    asyncContext_ = nullptr;
    Unref();
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
    napi_value argv[2] = {Napi::Boolean::New(env, readable), Napi::Boolean::New(env, writable)};
    napi_value result;
    self->inCallback_ = true;
    // C API on purpose: node-addon-api would turn a failure into a C++ exception object, which
    // cannot be built when the thread is terminating and JS can no longer run.
    napi_status called = napi_make_callback(env, self->asyncContext_, self->Value(), self->callback_.Value(), 2, argv, &result);
    self->inCallback_ = false;
    napi_value error;
    napi_valuetype type;
    // A throw in cb is reported like a throwing EventEmitter listener ('uncaughtException').
    // With nothing pending (the thread is terminating) there is nothing to report.
    if (called == napi_pending_exception && napi_get_and_clear_last_exception(env, &error) == napi_ok &&
        napi_typeof(env, error, &type) == napi_ok && type != napi_undefined) {
      napi_fatal_exception(env, error);
    }
    if (failed) self->Stop();
    if (self->poll_ == nullptr) self->FinishStop();  // stop() was called inside the callback
  }

  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  napi_async_context asyncContext_ = nullptr;
  bool inCallback_ = false;
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
