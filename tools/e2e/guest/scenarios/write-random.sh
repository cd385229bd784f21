# write-random: guest -> host. vtcon.port=SPEC (name, vportXpY or hvc0), vtcon.bytes=N (default 1 MiB).
# The bytes are random, so the guest prints their hash first; the host compares it with what arrived.
#   VTCON data bytes=<N> sha256=<hex> dev=<dev>
#   VTCON written bytes=<N>
. /scenarios/_lib.sh
need VTCON_PORT vtcon.port
bytes="${VTCON_BYTES:-1048576}"
dev="$(wait_port "$VTCON_PORT" "${VTCON_WAIT:-20}")" || { say "error no-port $VTCON_PORT"; exit 1; }
head -c "$bytes" /dev/urandom >/tmp/data
say "data bytes=$(wc -c </tmp/data) sha256=$(sha256sum /tmp/data | cut -d' ' -f1) dev=$dev"
open_port "$dev" || { say "error open-failed $dev"; exit 1; }
# A vport write blocks until the host side is open (VIRTIO_CONSOLE_PORT_OPEN), so this also waits for it.
cat /tmp/data >&3 || { say "error write-failed $dev"; exit 1; }
exec 3>&-
say "written bytes=$bytes"
