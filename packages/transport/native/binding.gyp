# Built by build-for-node.sh (run at `npm ci` by the package's install script), never downloaded.
{
  "targets": [
    {
      "target_name": "vtcon_native",
      "sources": ["addon.cc", "syscalls.cc", "fd_watch.cc", "v8_bridge.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
