#!/usr/bin/env python3
"""Prints the records of a JSON-lines file (sluice-control --print-records, sluice-tracegen
--expect) the way `nfdump -q -N -o "fmt:$NFDUMP_FIELDS"` prints flows, one per line, so a test
can compare what nfcapd stored with what the capture holds."""
import datetime
import json
import sys

# nfdump's TCP flags string: CWR ECE URG ACK PSH RST SYN FIN, '.' when unset.
FLAGS = "CEUAPRSF"


def flags(value):
    return "".join(c if value & (0x80 >> i) else "." for i, c in enumerate(FLAGS))


def when(ns):
    t = datetime.datetime.fromtimestamp(ns // 1_000_000 / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (ns // 1_000_000 % 1000)


for line in open(sys.argv[1]):
    r = json.loads(line)
    icmp = r["proto"] in (1, 58)
    dport = "%d.%d" % (r["dport"] >> 8, r["dport"] & 0xFF) if icmp else str(r["dport"])
    print("|".join([when(r["first_ns"]), when(r["last_ns"]), str(r["proto"]), r["src"], r["dst"],
                    str(r["sport"]), dport, str(r["packets"]), str(r["octets"]),
                    str(r["rpackets"]), str(r["roctets"]), flags(r["flags"])]))
