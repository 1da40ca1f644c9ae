#!/usr/bin/env python3
"""Assembles every DIR/<kernel>.<target>.ptx with `ptxas -arch=<target>` and
reports the count per target, failing on the first ptxas error. Also counts
kernels whose PTX bodies are identical up to their names (duplicates)."""
import collections
import os
import re
import subprocess
import sys
import tempfile

ptxas, directory = sys.argv[1], sys.argv[2]
counts = collections.Counter()
bodies = collections.Counter()
for name in sorted(os.listdir(directory)):
    if not name.endswith(".ptx"):
        continue
    kernel, target = name[:-4].rsplit(".", 1)
    path = os.path.join(directory, name)
    with tempfile.NamedTemporaryFile(suffix=".cubin") as out:
        proc = subprocess.run([ptxas, f"-arch={target}", "-o", out.name, path],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"ptxas failed on {name}:\n{proc.stderr}")
    counts[target] += 1
    text = open(path).read()
    # Compare bodies with the kernel's own name blanked out.
    bodies[(target, re.sub(re.escape(kernel), "K", text))] += 1
for target in sorted(counts):
    print(f"{target}: {counts[target]} kernels assembled")
print(f"duplicate kernels: {sum(n - 1 for n in bodies.values())}")
