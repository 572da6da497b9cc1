#!/usr/bin/env python3
"""Prints, as JSON, the last Metering Process (template 260) and Exporting Process (261)
reliability statistics records of an IPFIX file as libfixbuf's ipfixDump decodes them, each as
{element name: value}, and the observationDomainName (263) a collector was sent."""
import json
import re
import subprocess
import sys

dump = subprocess.run(["ipfixDump", "-i", sys.argv[1]], capture_output=True, text=True, check=True)
last = {}
for block in dump.stdout.split("--- data record ")[1:]:
    tid = re.search(r"tid:\s+(\d+)", block)
    if tid is None:
        continue
    fields = {}
    for name, value in re.findall(r"^\s+\(\d+\)(?: \(S\))?\s+(\w+) : (.*)$", block, re.M):
        fields.setdefault(name, value.strip())  # the window's first time, not its second
    last[tid.group(1)] = fields
print(json.dumps({"metering": last.get("260"), "exporting": last.get("261"),
                  "domain": last.get("263")}))
