# watch-size: resize. Prints `stty size` of vtcon.port (default hvc0) now and whenever it changes,
# for vtcon.watch seconds (default 60).
#   VTCON size <rows> <cols>
. /scenarios/_lib.sh
dev="$(wait_port "${VTCON_PORT:-hvc0}" "${VTCON_WAIT:-20}")" || { say "error no-port ${VTCON_PORT:-hvc0}"; exit 1; }
# Keep the tty open so the size the driver records is the one stty reads.
exec 3<>"$dev" || { say "error open-failed $dev"; exit 1; }
stty -F "$dev" -echo
last=""
i=0
while [ "$i" -lt $(( ${VTCON_WATCH:-60} * 10 )) ]; do
  now="$(stty -F "$dev" size)"
  if [ "$now" != "$last" ]; then say "size $now"; last="$now"; fi
  sleep 0.1; i=$(( i + 1 ))
done
exec 3<&-
