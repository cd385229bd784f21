# shell: the host drives the guest over the serial console, one command per line:
#   host sends   "<id> <command>\n"
#   guest prints the command's output, then "VTCON rc <id> <exit status>"
# Runs until the console closes or the host sends "<id> exit". The serial port is not the device
# under test, so this works whatever state the virtio device is in.
. /scenarios/_lib.sh
stty -echo 2>/dev/null
say "shell ready"
while IFS= read -r line; do
  id="${line%% *}"; cmd="${line#* }"
  [ "$cmd" = exit ] && { say "rc $id 0"; break; }
  sh -c "$cmd" </dev/null
  say "rc $id $?"
done
