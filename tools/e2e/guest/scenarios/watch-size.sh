# watch-size: resize. Prints `stty size` of vtcon.port (default hvc0) now and whenever it changes,
# for vtcon.watch seconds (default 60).
#   VTCON size <rows> <cols>      ("0 0" until the device has sent a size: busybox stty refuses a
#                                  zero window size, and would fall back to $LINES/$COLUMNS)
. /scenarios/_lib.sh
dev="$(wait_port "${VTCON_PORT:-hvc0}" "${VTCON_WAIT:-20}")" || { say "error no-port ${VTCON_PORT:-hvc0}"; exit 1; }
# Keep the tty open while watching (its termios, size included, would be reset on last close).
open_port "$dev" -echo || { say "error open-failed $dev"; exit 1; }
last="unset"
i=0
while [ "$i" -lt $(( ${VTCON_WATCH:-60} * 10 )) ]; do
  # busybox stty exits 0 but prints nothing for a zero size
  now="$(unset LINES COLUMNS; stty size <&3 2>/dev/null)"
  [ -n "$now" ] || now="0 0"
  if [ "$now" != "$last" ]; then say "size $now"; last="$now"; fi
  sleep 0.1; i=$(( i + 1 ))
done
exec 3<&-
