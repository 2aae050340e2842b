"""Reads and writes safetensors files with numpy alone (no extra package).

Layout: 8-byte little-endian header length N, N bytes of JSON header
{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}
with offsets relative to the end of the header, then the raw little-endian data.
"""
import json
import struct

import numpy as np

# safetensors dtype name <-> little-endian numpy dtype, for the types skein's files and tests use.
DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1"}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def write(path, tensors, metadata=None):
    """Writes `tensors` (name -> numpy array) to `path`, in insertion order, without gaps."""
    header = {}
    blobs = []
    offset = 0
    for name, array in tensors.items():
        array = np.asarray(array)
        dtype = NAMES.get(array.dtype.newbyteorder("<"))
        if dtype is None:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {array.dtype}")
        blob = np.ascontiguousarray(array, dtype=DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keeps the data section 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read(path):
    """Returns name -> numpy array for every tensor in the safetensors file `path`."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: file too short for a safetensors header ({len(raw)} bytes)")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if 8 + header_len > len(raw):
        raise ValueError(f"{path}: header length {header_len} exceeds file size {len(raw)}")
    header = json.loads(raw[8:8 + header_len])
    data = memoryview(raw)[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        dtype = np.dtype(DTYPES[info["dtype"]])
        count = int(np.prod(info["shape"], dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise ValueError(f"{path}: tensor {name}: data_offsets {info['data_offsets']} "
                             f"do not fit shape {info['shape']} {info['dtype']}")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"]).copy()
    return tensors
