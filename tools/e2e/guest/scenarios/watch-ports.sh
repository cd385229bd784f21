# watch-ports: hot plug. Prints the port set now and every time it changes, for vtcon.watch
# seconds (default 60; the host usually kills QEMU once it has seen what it waits for).
#   VTCON ports-now <vportXpY=name ...>
. /scenarios/_lib.sh
last="unset"
i=0
while [ "$i" -lt $(( ${VTCON_WATCH:-60} * 10 )) ]; do
  now="$(ports_line)"
  if [ "$now" != "$last" ]; then say "ports-now $now"; last="$now"; fi
  sleep 0.1; i=$(( i + 1 ))
done
