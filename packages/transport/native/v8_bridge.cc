// The one place that steps outside Node-API. Node-API has no way to wrap foreign memory
// (our mmap) in a SharedArrayBuffer, so we build it with V8 and convert the v8::Local to a
// napi_value the way Node itself does internally (a napi_value is the Local's slot pointer).
// That layout is an implementation detail, not ABI: every Node version CI runs must be tested
// (native.test.ts covers it), and build-for-node.sh compiles against that Node's own v8.h.
#include <node_api.h>
#include <v8.h>

#include <cstring>
#include <memory>

#include "addon.h"

static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>),
              "napi_value must be a v8::Local in disguise for this bridge");

static napi_value ToNapi(v8::Local<v8::Value> local) {
  return reinterpret_cast<napi_value>(*local);
}

static v8::Local<v8::Value> FromNapi(napi_value value) {
  v8::Local<v8::Value> local;
  std::memcpy(static_cast<void*>(&local), &value, sizeof value);
  return local;
}

napi_value NewExternalSharedArrayBuffer(void* data, size_t length, UnmapDeleter deleter) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::shared_ptr<v8::BackingStore> store =
      v8::SharedArrayBuffer::NewBackingStore(data, length, deleter, nullptr);
  return ToNapi(v8::SharedArrayBuffer::New(isolate, std::move(store)));
}

bool GetSharedArrayBufferRange(napi_value value, void** data, size_t* length) {
  v8::Local<v8::Value> local = FromNapi(value);
  if (local.IsEmpty() || !local->IsSharedArrayBuffer()) return false;
  std::shared_ptr<v8::BackingStore> store = local.As<v8::SharedArrayBuffer>()->GetBackingStore();
  *data = store->Data();
  *length = store->ByteLength();
  return true;
}
