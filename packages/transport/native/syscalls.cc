// Thin wrappers over the Linux syscalls vhost-user needs and Node lacks. Every failure throws
// NativeError via ThrowErrno; EINTR is retried; "would block" is a normal result where a caller
// polls (accept → null, recvMsg → null, eventfdRead → 0) and an error where it is not expected.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <cstdio>
#include <vector>

#include "addon.h"

namespace {

// ---- guest memory: memfd + shared mapping -------------------------------------------------

// Live mappings made by mmapShared, process-wide because SABs travel between threads. The
// deleter runs on a V8 background thread after GC, so access is locked. Never freed: a deleter
// may still run while the process exits.
// `id` tells a mapping apart from a later one at the same address (see ReconcileReleased).
struct Mapping { size_t length; bool released; uint64_t id; };
std::mutex mappingsLock;
auto* mappings = new std::unordered_map<void*, Mapping>();
auto* liveIds = new std::unordered_set<uint64_t>();
uint64_t nextMappingId = 1;

// Released ranges reported to V8 as external memory (see ReleaseMapping) whose deleter has run
// since: hand the bytes back so V8's count does not drift. JS thread only (per env).
void ReconcileReleased(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data == nullptr || data->releasedPendingGc.empty()) return;
  int64_t freed = 0;
  {
    std::lock_guard<std::mutex> lock(mappingsLock);
    auto& pending = data->releasedPendingGc;
    for (size_t k = 0; k < pending.size();) {
      if (liveIds->count(pending[k].first) == 0) {
        freed += static_cast<int64_t>(pending[k].second);
        pending[k] = pending.back();
        pending.pop_back();
      } else {
        k++;
      }
    }
  }
  if (freed > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -freed);
}

// memfd_create: guest RAM for the frontend role; the fd is what SET_MEM_TABLE sends to a backend.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) ThrowInvalid(info.Env(), "memfdCreate", "name must be a string");
  std::string name = info[0].As<Napi::String>();
  // ALLOW_SEALING: the frontend role seals guest RAM (F_SEAL_SHRINK) as QEMU does; a back-end
  // refuses memory that could shrink under its mapping (SIGBUS).
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) ThrowErrno(info.Env(), "memfd_create", errno);
  return Napi::Number::New(info.Env(), fd);
}

// ftruncate: a new memfd has size 0; give it the guest RAM size before mapping it.
Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "ftruncate");
  int64_t size = ArgSize(info, 1, "ftruncate");
  int rc;
  do rc = ftruncate(fd, size); while (rc < 0 && errno == EINTR);
  if (rc < 0) ThrowErrno(info.Env(), "ftruncate", errno);
  return info.Env().Undefined();
}

// close: every fd here (memfds, eventfds, sockets, received fds) is owned by JS and closed explicitly.
Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "close");
  // Linux releases the fd even when close returns EINTR, so never retry.
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), "close", errno);
  return info.Env().Undefined();
}

// Runs after the last SAB referencing the mapping is garbage collected (V8 background thread).
void UnmapDeleter(void* data, size_t length, void*) {
  {
    std::lock_guard<std::mutex> lock(mappingsLock);
    auto it = mappings->find(data);
    if (it != mappings->end()) {
      liveIds->erase(it->second.id);
      mappings->erase(it);
    }
  }
  munmap(data, length);
}

// mmap(MAP_SHARED): guest RAM (ours or received from the frontend) as a SharedArrayBuffer, so
// rings can be read in place and the buffer posted to worker threads without copies.
Napi::Value MmapShared(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "mmapShared");
  int64_t size = ArgSize(info, 1, "mmapShared");
  int64_t offset = ArgSize(info, 2, "mmapShared");
  if (size == 0) ThrowInvalid(info.Env(), "mmapShared", "size must be > 0");
  ReconcileReleased(info.Env());
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  if (p == MAP_FAILED) ThrowErrno(info.Env(), "mmap", errno);
  {
    std::lock_guard<std::mutex> lock(mappingsLock);
    uint64_t id = nextMappingId++;
    (*mappings)[p] = Mapping{static_cast<size_t>(size), false, id};
    liveIds->insert(id);
  }
  return Napi::Value(info.Env(), NewExternalSharedArrayBuffer(p, size, UnmapDeleter));
}

// mmap(MAP_FIXED|MAP_ANONYMOUS) over a mapping: the deleter only runs after GC, and mapped
// memory is no GC pressure, so a disconnecting VM's memfd would stay pinned indefinitely.
// Replacing the pages drops our reference to the memfd now; the SAB stays valid (reads zeros)
// and the deleter later unmaps the anonymous range.
// MAP_NORESERVE: a private writable mapping is otherwise charged against the commit limit, so
// replacing a region larger than RAM + swap (a 64 GiB sparse memfd) failed with ENOMEM under the
// default heuristic overcommit. The replacement is never written (only stale readers see it).
// The range still counts in VmSize until the SAB is collected, so the released bytes are
// reported to V8 as external memory: that makes V8 collect soon (the deleter then unmaps), and
// ReconcileReleased takes the bytes back once it has.
Napi::Value ReleaseMapping(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* data = nullptr;
  size_t length = 0;
  if (!GetSharedArrayBufferRange(info[0], &data, &length)) {
    ThrowInvalid(env, "releaseMapping", "expected a SharedArrayBuffer");
  }
  ReconcileReleased(env);
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mappingsLock);
    auto it = mappings->find(data);
    if (it == mappings->end() || it->second.length != length) {
      ThrowInvalid(env, "releaseMapping", "not a mapping made by mmapShared");
    }
    if (it->second.released) return env.Undefined();
    void* p = mmap(data, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) ThrowErrno(env, "mmap", errno);  // the file mapping is still in place
    it->second.released = true;
    id = it->second.id;
  }
  AddonData* ad = env.GetInstanceData<AddonData>();
  if (ad != nullptr) {
    ad->releasedPendingGc.emplace_back(id, length);
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(length));
  }
  return env.Undefined();
}

// ---- received fds: what kind of file, and make it non-blocking -------------------------------

// fstat + fcntl(F_GETFL, F_GET_SEALS) + readlink(/proc/self/fd/N): everything a back-end needs to
// check an fd a front-end sent before using it (eventfd for kick/call, sealed memfd for memory).
// seals is -1 where the file cannot carry seals (EINVAL: not shmem/hugetlbfs).
Napi::Value FdInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fdInfo");
  struct stat st;
  if (fstat(fd, &st) < 0) ThrowErrno(env, "fstat", errno);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) ThrowErrno(env, "fcntl", errno);
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0) {
    if (errno != EINVAL) ThrowErrno(env, "fcntl", errno);
    seals = -1;
  }
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  char link[256];
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n < 0) ThrowErrno(env, "readlink", errno);
  link[n] = 0;
  Napi::Object r = Napi::Object::New(env);
  r.Set("mode", Napi::Number::New(env, st.st_mode));
  r.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
  r.Set("flags", Napi::Number::New(env, flags));
  r.Set("seals", Napi::Number::New(env, seals));
  r.Set("link", Napi::String::New(env, link));
  return r;
}

// fcntl(F_SETFL, O_NONBLOCK): a received eventfd must never block a shared thread. It changes
// the open file description, which the front-end shares (QEMU's eventfds are non-blocking anyway).
// setNonBlocking(fd, false) clears it (tests build the blocking fds a hostile peer would send).
Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "setNonBlocking");
  bool on = !info[1].IsBoolean() || info[1].As<Napi::Boolean>().Value();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) ThrowErrno(info.Env(), "fcntl", errno);
  int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && fcntl(fd, F_SETFL, want) < 0) ThrowErrno(info.Env(), "fcntl", errno);
  return info.Env().Undefined();
}

// poll(fd, 0 events, timeout 0): true when the peer of a connected socket closed (POLLHUP) or the
// fd is in error. Works on an fd whose reads are paused, where no read can see the EOF.
Napi::Value PeerHungUp(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "peerHungUp");
  struct pollfd p = {fd, 0, 0};
  int n;
  do n = poll(&p, 1, 0); while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(info.Env(), "poll", errno);
  return Napi::Boolean::New(info.Env(), (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0);
}

// fcntl(F_ADD_SEALS): the frontend role seals its guest RAM against shrinking, as QEMU does.
Napi::Value AddSeals(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "addSeals");
  int64_t seals = ArgSize(info, 1, "addSeals");
  if (fcntl(fd, F_ADD_SEALS, static_cast<int>(seals)) < 0) ThrowErrno(info.Env(), "fcntl", errno);
  return info.Env().Undefined();
}

// ---- Unix sockets -------------------------------------------------------------------------

sockaddr_un UnixAddress(const Napi::CallbackInfo& info, const char* function) {
  if (!info[0].IsString()) ThrowInvalid(info.Env(), function, "path must be a string");
  std::string path = info[0].As<Napi::String>();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) ThrowErrno(info.Env(), function, ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

int ConnectBlocking(const sockaddr_un& addr) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int rc;
  do rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr); while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// socket+bind+listen: the backend role serves one vhost-user socket path per VM. A leftover
// socket file from a dead process is removed; a live listener or a non-socket file is not.
Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un addr = UnixAddress(info, "listenUnix");
  int backlog = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 128;
  struct stat st;
  if (lstat(addr.sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
    int probe = ConnectBlocking(addr);
    if (probe >= 0) {
      close(probe);
      ThrowErrno(env, "bind", EADDRINUSE);
    }
    if (errno == ECONNREFUSED) unlink(addr.sun_path);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "socket", errno);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(fd, backlog) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "bind/listen", err);
  }
  return Napi::Number::New(env, fd);
}

// accept4: take one frontend connection; the addon keeps owning its fd so SCM_RIGHTS fds are
// never lost to a libuv read (net.Socket would consume the bytes and the kernel drops the fds).
Napi::Value Accept(const Napi::CallbackInfo& info) {
  int listenFd = ArgFd(info, 0, "accept");
  int fd;
  do fd = accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return info.Env().Null();
    ThrowErrno(info.Env(), "accept4", errno);
  }
  return Napi::Number::New(info.Env(), fd);
}

// connect: the frontend role (simulated guests, tests) dials a backend. The connect itself is
// blocking (a Unix connect completes at once unless the backlog is full), the fd is non-blocking after.
Napi::Value ConnectUnix(const Napi::CallbackInfo& info) {
  sockaddr_un addr = UnixAddress(info, "connectUnix");
  int fd = ConnectBlocking(addr);
  if (fd < 0) ThrowErrno(info.Env(), "connect", errno);
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(info.Env(), "fcntl", err);
  }
  return Napi::Number::New(info.Env(), fd);
}

// socketpair: a connected pair without a path, e.g. the BACKEND_REQ channel (SET_BACKEND_REQ_FD) and tests.
// Argument true: SOCK_SEQPACKET (the holder's engine link: each record arrives whole, with its fds).
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int sv[2];
  int type = info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value() ? SOCK_SEQPACKET : SOCK_STREAM;
  if (socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
    ThrowErrno(info.Env(), "socketpair", errno);
  }
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, sv[0]);
  pair.Set(1u, sv[1]);
  return pair;
}

// shutdown: end a connection so the peer sees EOF even while other fds to the socket exist.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "shutdown");
  int how = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : SHUT_RDWR;
  if (shutdown(fd, how) < 0) ThrowErrno(info.Env(), "shutdown", errno);
  return info.Env().Undefined();
}

Napi::Uint8Array ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* function) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowInvalid(info.Env(), function, "data must be a Uint8Array");
  }
  return info[i].As<Napi::Uint8Array>();
}

// sendmsg + SCM_RIGHTS: vhost-user messages carry fds (memory regions, kick/call eventfds,
// the backend request socket) as ancillary data on the same write as their bytes.
Napi::Value SendMsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "sendMsg");
  Napi::Uint8Array data = ArgBytes(info, 1, "sendMsg");
  std::vector<int> fds;
  if (info[2].IsArray()) {
    Napi::Array list = info[2].As<Napi::Array>();
    for (uint32_t k = 0; k < list.Length(); k++) fds.push_back(FdValue(env, list.Get(k), "sendMsg"));
  }
  if (fds.size() > 253) ThrowInvalid(env, "sendMsg", "at most 253 fds per message (SCM_MAX_FD)");
  iovec iov{data.Data(), data.ByteLength()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<cmsghdr> control;
  if (!fds.empty()) {
    size_t space = CMSG_SPACE(fds.size() * sizeof(int));
    control.resize((space + sizeof(cmsghdr) - 1) / sizeof(cmsghdr));
    msg.msg_control = control.data();
    msg.msg_controllen = space;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, "sendmsg", errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

// recvmsg + SCM_RIGHTS: the receiving side of the above. Received fds are CLOEXEC
// (MSG_CMSG_CLOEXEC) so child processes never inherit guest memory. MSG_CTRUNC means fds did
// not fit; the kernel closes those itself (and we close any beyond maxFds), so nothing leaks,
// and the caller rejects the message.
Napi::Value RecvMsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "recvMsg");
  Napi::Uint8Array buf = ArgBytes(info, 1, "recvMsg");
  int maxFds = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 8;
  if (maxFds < 0 || maxFds > 253) ThrowInvalid(env, "recvMsg", "maxFds must be 0..253");
  iovec iov{buf.Data(), buf.ByteLength()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<cmsghdr> control;
  if (maxFds > 0) {
    size_t space = CMSG_SPACE(maxFds * sizeof(int));
    control.resize((space + sizeof(cmsghdr) - 1) / sizeof(cmsghdr));
    msg.msg_control = control.data();
    msg.msg_controllen = space;
  }
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    ThrowErrno(env, "recvmsg", errno);
  }
  Napi::Array fds = Napi::Array::New(env);
  if (msg.msg_controllen > 0) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t k = 0; k < count; k++) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
        // CMSG_SPACE rounds up, so the kernel may install one fd more than asked: keep the
        // promise "at most maxFds" by closing the surplus and reporting truncation.
        if (fds.Length() < static_cast<uint32_t>(maxFds)) {
          fds.Set(fds.Length(), received);
        } else {
          close(received);
          msg.msg_flags |= MSG_CTRUNC;
        }
      }
    }
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(n)));
  result.Set("fds", fds);
  result.Set("ctrunc", Napi::Boolean::New(env, (msg.msg_flags & MSG_CTRUNC) != 0));
  return result;
}

// ---- eventfd ------------------------------------------------------------------------------

// eventfd: vhost-user kick (frontend → backend) and call (backend → frontend) notifications.
Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), "eventfd", errno);
  return Napi::Number::New(info.Env(), fd);
}

// write(eventfd): signal the peer (adds to the counter).
Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "eventfdWrite");
  uint64_t value = info[1].IsUndefined() ? 1 : static_cast<uint64_t>(ArgSize(info, 1, "eventfdWrite"));
  ssize_t n;
  do n = write(fd, &value, sizeof value); while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(info.Env(), "write", errno);
  return info.Env().Undefined();
}

// read(eventfd): consume pending notifications; 0 means none were pending (EAGAIN).
Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "eventfdRead");
  uint64_t value = 0;
  ssize_t n;
  do n = read(fd, &value, sizeof value); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(info.Env(), 0);
    ThrowErrno(info.Env(), "read", errno);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(value));
}

}  // namespace

void InitSyscalls(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("ftruncate", Napi::Function::New(env, Ftruncate, "ftruncate"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("mmapShared", Napi::Function::New(env, MmapShared, "mmapShared"));
  exports.Set("releaseMapping", Napi::Function::New(env, ReleaseMapping, "releaseMapping"));
  exports.Set("fdInfo", Napi::Function::New(env, FdInfo, "fdInfo"));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking, "setNonBlocking"));
  exports.Set("peerHungUp", Napi::Function::New(env, PeerHungUp, "peerHungUp"));
  exports.Set("addSeals", Napi::Function::New(env, AddSeals, "addSeals"));
  exports.Set("listenUnix", Napi::Function::New(env, ListenUnix, "listenUnix"));
  exports.Set("accept", Napi::Function::New(env, Accept, "accept"));
  exports.Set("connectUnix", Napi::Function::New(env, ConnectUnix, "connectUnix"));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("sendMsg", Napi::Function::New(env, SendMsg, "sendMsg"));
  exports.Set("recvMsg", Napi::Function::New(env, RecvMsg, "recvMsg"));
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate, "eventfdCreate"));
  exports.Set("eventfdWrite", Napi::Function::New(env, EventfdWrite, "eventfdWrite"));
  exports.Set("eventfdRead", Napi::Function::New(env, EventfdRead, "eventfdRead"));
}
