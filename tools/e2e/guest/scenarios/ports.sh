# ports: every virtio-console port and console tty.
#   VTCON port <vportXpY> name=<name|-> dev=/dev/<vportXpY>
#   VTCON hvc <hvcN>                 (one per console port bound to hvc)
#   VTCON ports <count> <vportXpY=name ...>
# vtcon.nports=N: first wait up to vtcon.wait seconds (default 20) for N ports.
. /scenarios/_lib.sh
if [ -n "${VTCON_NPORTS:-}" ]; then
  i=0
  while [ "$(ls /sys/class/virtio-ports 2>/dev/null | wc -l)" -lt "$VTCON_NPORTS" ] && [ "$i" -lt $(( ${VTCON_WAIT:-20} * 10 )) ]; do
    sleep 0.1; i=$(( i + 1 ))
  done
fi
count=0
for p in /sys/class/virtio-ports/*; do
  [ -d "$p" ] || continue
  n="-"; [ -s "$p/name" ] && n="$(cat "$p/name")"
  dev="-"; [ -e "/dev/${p##*/}" ] && dev="/dev/${p##*/}"
  say "port ${p##*/} name=$n dev=$dev"
  count=$(( count + 1 ))
done
for t in /sys/class/tty/hvc*; do
  [ -e "$t" ] && [ -e "/dev/${t##*/}" ] && say "hvc ${t##*/}"
done
say "ports $count $(ports_line)"
