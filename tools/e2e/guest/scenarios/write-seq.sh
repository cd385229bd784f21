# write-seq: guest -> host, numbered lines for loss/duplication checks across a backend restart.
# Writes "seq <i>\n" for i = 0 .. vtcon.count-1 (default 20000) to vtcon.port=SPEC, one write(2)
# per line, so every line travels in its own buffer. On hvc a write returns only once the host has
# returned (acknowledged) its buffer, so a progress line means those lines were acknowledged.
#   VTCON seq-start dev=<dev> count=<N>
#   VTCON seq-progress <i>      (every vtcon.every lines, default 500: lines 0..i-1 written)
#   VTCON seq-done count=<N>
. /scenarios/_lib.sh
need VTCON_PORT vtcon.port
count="${VTCON_COUNT:-20000}"
dev="$(wait_port "$VTCON_PORT" "${VTCON_WAIT:-20}")" || { say "error no-port $VTCON_PORT"; exit 1; }
open_port "$dev" || { say "error open-failed $dev"; exit 1; }
say "seq-start dev=$dev count=$count"
i=0
while [ "$i" -lt "$count" ]; do
  echo "seq $i" >&3 || { say "error write-failed $dev at=$i"; exit 1; }
  i=$(( i + 1 ))
  [ $(( i % ${VTCON_EVERY:-500} )) -eq 0 ] && say "seq-progress $i"
done
exec 3>&-
say "seq-done count=$count"
