#!/usr/bin/env python3
"""Prints the manifest.json section of a .dscx artifact, one argument or
target per line (the format: runtime/artifact/Artifact.h).

With --section NAME OUT, writes section NAME's bytes to OUT instead."""
import json
import struct
import sys

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"DSCX\r\n\x1a\n", "not a dsc artifact"
(count,) = struct.unpack_from("<I", data, 12)
wanted = sys.argv[3] if sys.argv[2:3] == ["--section"] else "manifest.json"
for i in range(count):
    name, offset, size = struct.unpack_from("<64sQQ", data, 24 + i * 80)
    if name.rstrip(b"\0") == wanted.encode():
        section = data[offset:offset + size]
        break
else:
    sys.exit(f"no {wanted} section")
if wanted != "manifest.json":
    open(sys.argv[4], "wb").write(section)
    sys.exit(0)
manifest = json.loads(section)
for entry in manifest["entry_points"]:
    for arg in entry["args"]:
        print(json.dumps(arg, separators=(",", ":")))
for target in manifest["targets"]:
    print(json.dumps(target, separators=(",", ":")))
