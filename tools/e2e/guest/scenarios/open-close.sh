# open-close: the guest opens vtcon.port, holds it vtcon.hold seconds (default 3), closes it and
# waits as long again; vtcon.times=N rounds (default 1). The host watches `vtcon ls --json`.
#   VTCON opened dev=<dev> round=<i>
#   VTCON closed dev=<dev> round=<i>
. /scenarios/_lib.sh
need VTCON_PORT vtcon.port
dev="$(wait_port "$VTCON_PORT" "${VTCON_WAIT:-20}")" || { say "error no-port $VTCON_PORT"; exit 1; }
hold="${VTCON_HOLD:-3}"
i=1
while [ "$i" -le "${VTCON_TIMES:-1}" ]; do
  exec 3<"$dev" || { say "error open-failed $dev"; exit 1; }
  say "opened dev=$dev round=$i"
  sleep "$hold"
  exec 3<&-
  say "closed dev=$dev round=$i"
  sleep "$hold"
  i=$(( i + 1 ))
done
