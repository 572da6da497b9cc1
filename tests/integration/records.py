#!/usr/bin/env python3
"""Compares two JSON-lines files of flow records (sluice-control --print-records, sluice-tracegen
--expect) as multisets: the same records, in any order. With --fields, only those fields count
(a live run's times and end reasons are its own). Prints what differs; exits 1 when anything does.

    records.py EXPECTED GOT [--fields src,dst,packets,...]
"""
import argparse
import collections
import json
import sys


def frozen(value):
    return tuple(value) if isinstance(value, list) else value


def load(path, fields):
    records = collections.Counter()
    for number, line in enumerate(open(path), 1):
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"{path}:{number}: not a record: {e}")
        records[tuple((f, frozen(r.get(f))) for f in (fields or sorted(r)))] += 1
    return records


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("expected")
    parser.add_argument("got")
    parser.add_argument("--fields", help="comma-separated: compare only these fields")
    args = parser.parse_args()
    fields = args.fields.split(",") if args.fields else None
    expected, got = load(args.expected, fields), load(args.got, fields)
    if expected == got:
        return 0
    missing, extra = expected - got, got - expected
    print(f"{sum(expected.values())} records expected, {sum(got.values())} got; "
          f"{sum(missing.values())} missing, {sum(extra.values())} not expected", file=sys.stderr)
    for what, records in (("missing", missing), ("not expected", extra)):
        for record in list(records)[:5]:
            print(f"  {what}: {dict(record)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
