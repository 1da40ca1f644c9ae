#!/usr/bin/env python3
"""Prints the manifest.json section of a .dscx artifact, one argument or
target per line (the format: runtime/artifact/Artifact.h)."""
import json
import struct
import sys

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"DSCX\r\n\x1a\n", "not a dsc artifact"
(count,) = struct.unpack_from("<I", data, 12)
for i in range(count):
    name, offset, size = struct.unpack_from("<64sQQ", data, 24 + i * 80)
    if name.rstrip(b"\0") == b"manifest.json":
        manifest = json.loads(data[offset:offset + size])
        break
else:
    sys.exit("no manifest.json section")
for entry in manifest["entry_points"]:
    for arg in entry["args"]:
        print(json.dumps(arg, separators=(",", ":")))
for target in manifest["targets"]:
    print(json.dumps(target, separators=(",", ":")))
