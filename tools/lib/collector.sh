# shellcheck shell=bash
# Shell helpers for the scripts that run a UDP collector (nfcapd) beside Sluice: tools/demo,
# tools/bench-pcap and the integration tests source this file.

# wait_until_read PORT: returns once the UDP socket listening on PORT has no datagram waiting
# to be read, or after 10 seconds (200 x 50 ms). A stop signal ends nfcapd with what it has
# read: stopping it right after an export has finished loses the datagrams still queued.
wait_until_read() {
  local i
  for i in $(seq 200); do
    [ "$(ss -Hnlu "sport = :$1" | awk '{ print $2 }')" != 0 ] || return 0
    sleep 0.05
  done
}
