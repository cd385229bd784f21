# Sourced by every scenario (names starting with '_' are not scenarios).
# say: one result line for the host, on the serial console.
say() { echo "VTCON $*"; }

# port_dev SPEC: the device node for a port. SPEC is a /dev name (hvc0, vport0p1) or a port name
# as the device announced it (/sys/class/virtio-ports/*/name). A console port's vportNpM node refuses
# open (ENXIO), so name it by its hvc device.
port_dev() {
  if [ -e "/dev/$1" ]; then echo "/dev/$1"; return 0; fi
  for p in /sys/class/virtio-ports/*; do
    [ -f "$p/name" ] || continue
    if [ "$(cat "$p/name")" = "$1" ]; then echo "/dev/${p##*/}"; return 0; fi
  done
  return 1
}

# wait_port SPEC SECONDS: port_dev, waiting for the port to appear (hot plug, late probe).
wait_port() {
  i=0
  while [ "$i" -lt $(( $2 * 10 )) ]; do
    port_dev "$1" && return 0
    sleep 0.1; i=$(( i + 1 ))
  done
  return 1
}

# open_port DEV [STTY-SETTINGS]: opens DEV read-write as fd 3. For a tty (hvcN) it then applies the
# settings (default "raw -echo": bytes unchanged, nothing echoed back to the host) through that fd.
# They must be set on the open fd: hvc resets termios on the last close (TTY_DRIVER_RESET_TERMIOS),
# so `stty -F` before opening would be undone.
open_port() {
  exec 3<>"$1" || return 1
  case "$1" in
    /dev/hvc*|/dev/tty*) stty ${2:-raw -echo} <&3 || return 1 ;;
  esac
}

# ports_line: every port on one line, "vport0p1=name ..." (name "-" when none), sorted.
ports_line() {
  out=""
  for p in /sys/class/virtio-ports/*; do
    [ -d "$p" ] || continue
    n="-"; [ -s "$p/name" ] && n="$(cat "$p/name")"
    out="$out ${p##*/}=$n"
  done
  echo "$out" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

need() { eval "v=\${$1:-}"; [ -n "$v" ] || { say "error missing-parameter ${2:-$1}"; exit 2; }; }
