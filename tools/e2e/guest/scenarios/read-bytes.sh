# read-bytes: host -> guest. Reads exactly vtcon.bytes=N bytes from vtcon.port=SPEC.
#   VTCON ready dev=<dev>                       (port open, reading)
#   VTCON received bytes=<N> sha256=<hex> hex=<first 64 bytes in hex>
. /scenarios/_lib.sh
need VTCON_PORT vtcon.port
need VTCON_BYTES vtcon.bytes
dev="$(wait_port "$VTCON_PORT" "${VTCON_WAIT:-20}")" || { say "error no-port $VTCON_PORT"; exit 1; }
open_port "$dev" || { say "error open-failed $dev"; exit 1; }
say "ready dev=$dev"
head -c "$VTCON_BYTES" <&3 >/tmp/in
exec 3<&-
say "received bytes=$(wc -c </tmp/in) sha256=$(sha256sum /tmp/in | cut -d' ' -f1) hex=$(head -c 64 /tmp/in | od -An -v -tx1 | tr -d ' \n')"
