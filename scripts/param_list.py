#!/usr/bin/env python3
"""Print the floating-point tensors of a safetensors file, one per line, sorted by name.

Usage: param_list.py WEIGHTS.safetensors > params.txt

Each line is `name<TAB>[d0, d1, ...]`. Non-float tensors (e.g. BatchNorm's I64
`num_batches_tracked`) and the `__metadata__` entry are skipped. Pure Python: the file
starts with an 8-byte little-endian header length followed by a JSON header; the tensor
data itself is never read.
"""

import json
import struct
import sys

FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
MAX_HEADER_BYTES = 100 * 1024 * 1024


def read_header(path):
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) != 8:
            raise ValueError(f"{path}: file shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES:
            raise ValueError(f"{path}: header length {length} exceeds 100 MB")
        raw = f.read(length)
        if len(raw) != length:
            raise ValueError(f"{path}: header truncated ({len(raw)} of {length} bytes)")
    header = json.loads(raw.decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    return header


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    header = read_header(argv[1])
    for name in sorted(header):
        if name == "__metadata__":
            continue
        info = header[name]
        if info.get("dtype") not in FLOAT_DTYPES:
            continue
        shape = ", ".join(str(d) for d in info["shape"])
        print(f"{name}\t[{shape}]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
