# sleep: vtcon.sleep seconds (default 1), e.g. between scenarios.
sleep "${VTCON_SLEEP:-1}"
