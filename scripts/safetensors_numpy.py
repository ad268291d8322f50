"""Reads a safetensors file into numpy arrays, with nothing but numpy: the reference
scripts (scripts/*_reference.py) use it to load the test fixtures."""
import json
import struct

import numpy as np


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = {"F64": np.float64, "F32": np.float32, "I64": np.int64}[info["dtype"]]
        out[name] = np.frombuffer(data[8 + n + start:8 + n + end], dtype=dtype).reshape(info["shape"])
    return out
