#!/usr/bin/env python3
"""Prints the records of a JSON-lines file (sluice-control --print-records, sluice-tracegen
--expect) the way `nfdump -q -N -o "fmt:$NFDUMP_FIELDS"` prints flows, one per line, so a test
can compare what nfcapd stored with what the capture holds. With --uniflow, one line per
direction that saw packets, with its own counters, times and flags, as uniflow records (IPFIX
records = "uniflow", NetFlow v9) give them; --ipv4 keeps the IPv4 ones (NetFlow v5)."""
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


def line(first, last, proto, src, dst, sport, dport, packets, octets, rpackets, roctets, fl):
    icmp = proto in (1, 58)
    dport = "%d.%d" % (dport >> 8, dport & 0xFF) if icmp else str(dport)
    print("|".join([when(first), when(last), str(proto), src, dst, str(sport), dport,
                    str(packets), str(octets), str(rpackets), str(roctets), flags(fl)]))


uniflow = "--uniflow" in sys.argv
ipv4 = "--ipv4" in sys.argv
for text in open(sys.argv[1]):
    r = json.loads(text)
    if ipv4 and ":" in r["src"]:
        continue
    if not uniflow:
        line(r["first_ns"], r["last_ns"], r["proto"], r["src"], r["dst"], r["sport"], r["dport"],
             r["packets"], r["octets"], r["rpackets"], r["roctets"], r["flags"])
        continue
    if r["packets"]:
        line(r["first_ns"], r["last_ns"], r["proto"], r["src"], r["dst"], r["sport"], r["dport"],
             r["packets"], r["octets"], 0, 0, r["flags"])
    if r["rpackets"]:
        # An ICMP reply has no type and code of its own: its ports are 0.
        icmp = r["proto"] in (1, 58)
        line(r["rfirst_ns"], r["rlast_ns"], r["proto"], r["dst"], r["src"],
             0 if icmp else r["dport"], 0 if icmp else r["sport"], r["rpackets"], r["roctets"],
             0, 0, r["rflags"])
