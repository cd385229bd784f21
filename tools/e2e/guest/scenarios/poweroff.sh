# poweroff: power off now (QEMU runs with -no-reboot and exits), skipping later scenarios.
echo "VTCON poweroff"
poweroff -f
