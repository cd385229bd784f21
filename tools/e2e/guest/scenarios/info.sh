# info: kernel release and the virtio devices the guest sees, with the driver bound to each.
#   VTCON kernel <release>
#   VTCON virtio-device <virtioN> device=<virtio device id, 0x0003 = console> driver=<name|->
. /scenarios/_lib.sh
say "kernel $(uname -r)"
n=0
for d in /sys/bus/virtio/devices/*; do
  [ -d "$d" ] || continue
  drv="-"; [ -L "$d/driver" ] && drv="$(basename "$(readlink "$d/driver")")"
  say "virtio-device ${d##*/} device=$(cat "$d/device") vendor=$(cat "$d/vendor") driver=$drv"
  n=$(( n + 1 ))
done
say "virtio-devices $n"
