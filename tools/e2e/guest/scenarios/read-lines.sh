# read-lines: host -> guest text. Reads vtcon.lines=N lines (default 1) from vtcon.port=SPEC and
# prints each one.
#   VTCON ready dev=<dev>
#   VTCON line <text>
. /scenarios/_lib.sh
need VTCON_PORT vtcon.port
dev="$(wait_port "$VTCON_PORT" "${VTCON_WAIT:-20}")" || { say "error no-port $VTCON_PORT"; exit 1; }
# Canonical mode without echo: lines arrive whole, nothing is sent back to the host.
open_port "$dev" "-echo icrnl" || { say "error open-failed $dev"; exit 1; }
say "ready dev=$dev"
i=0
while [ "$i" -lt "${VTCON_LINES:-1}" ] && IFS= read -r line <&3; do
  say "line $line"
  i=$(( i + 1 ))
done
exec 3<&-
