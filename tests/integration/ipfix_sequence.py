#!/usr/bin/env python3
"""Checks an IPFIX stream (a TCP collector's bytes, or an RFC 5655 file) the way RFC 7011
section 3.1 numbers it: each message's sequence number is the previous one's plus the data
records that message carried. Prints the messages and records; exits 1 at the first gap.

    ipfix_sequence.py FILE
"""
import struct
import sys

data = open(sys.argv[1], "rb").read()
templates = {}  # template id -> field lengths (65535: variable)
at, expected, messages, records = 0, None, 0, 0
while at + 16 <= len(data):
    version, length, _, sequence, _ = struct.unpack_from(">HHIII", data, at)
    if version != 10 or length < 16 or at + length > len(data):
        break  # a message cut by the end of the stream
    if expected is not None and sequence != expected:
        sys.exit(f"message {messages} at byte {at}: sequence {sequence}, expected {expected}")
    carried = 0
    p, end = at + 16, at + length
    while p + 4 <= end:
        set_id, set_length = struct.unpack_from(">HH", data, p)
        q, set_end = p + 4, p + set_length
        if set_id in (2, 3):
            while q + 4 <= set_end:
                tid, count = struct.unpack_from(">HH", data, q)
                q += 6 if set_id == 3 else 4
                lengths = []
                for _ in range(count):
                    ie, flen = struct.unpack_from(">HH", data, q)
                    q += 8 if ie & 0x8000 else 4
                    lengths.append(flen)
                templates[tid] = lengths
        elif set_id >= 256 and set_id in templates:
            fixed = templates[set_id]
            minimum = sum(1 if f == 65535 else f for f in fixed)
            while q + minimum <= set_end and minimum > 0:
                for f in fixed:
                    if f == 65535:
                        n = data[q]
                        q += 1
                        if n == 255:
                            n = struct.unpack_from(">H", data, q)[0]
                            q += 2
                        q += n
                    else:
                        q += f
                carried += 1
        p = set_end
    records += carried
    expected = (sequence + carried) % (1 << 32)
    messages += 1
    at += length
print(f"{messages} messages, {records} data records, sequence numbers continuous")
