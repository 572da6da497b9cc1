#!/usr/bin/env python3
"""Prints the biflow records (templates 256 and 257, and 272 to 431 with metadata) of IPFIX files
as libfixbuf's ipfixDump decodes them, one JSON line each in the fields sluice-tracegen --expect writes: src, dst, sport,
dport, proto, packets, octets, rpackets, roctets. A file cut within its last message (a collector
that stopped mid-stream) gives the records of the messages before.

    ipfix_records.py FILE...
"""
import ipaddress
import json
import re
import subprocess
import sys

NAMES = {"sourceTransportPort": "sport", "destinationTransportPort": "dport",
         "protocolIdentifier": "proto", "packetDeltaCount": "packets",
         "octetDeltaCount": "octets", "reversePacketDeltaCount": "rpackets",
         "reverseOctetDeltaCount": "roctets"}
for version in ("IPv4", "IPv6"):
    NAMES[f"source{version}Address"] = "src"
    NAMES[f"destination{version}Address"] = "dst"

for path in sys.argv[1:]:
    dump = subprocess.run(["ipfixDump", "-i", path], capture_output=True, text=True)
    for block in dump.stdout.split("--- data record ")[1:]:
        tid = re.search(r"tid:\s+(\d+)", block)
        if tid is None or not (int(tid.group(1)) in (256, 257) or 272 <= int(tid.group(1)) <= 431):
            continue
        record = {}
        for name, value in re.findall(r"^\s+\([\d/]+\)(?: \(S\))?\s+(\w+) : (.*)$", block, re.M):
            if name in NAMES:
                value = value.strip()
                key = NAMES[name]
                # ipfixDump writes IPv6 addresses in full: compressed, as tracegen writes them.
                record[key] = str(ipaddress.ip_address(value)) if key in ("src", "dst") else int(value)
        print(json.dumps(record))
