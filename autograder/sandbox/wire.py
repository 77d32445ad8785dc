"""Plain data across the sandbox boundary: a JSON tree plus NumPy arrays, never a pickle.

A value is encoded as JSON in which every array is replaced by {"$array": key}, and the
arrays travel in an .npz blob loaded with allow_pickle=False. One message on a pipe is a
frame: an 8-byte header (two big-endian uint32 lengths, JSON then npz) and the two parts.
"""
import io
import json
import struct

import numpy as np

MAX_FRAME = 256 * 2**20          # bytes; larger frames are refused, not read
_HEADER = struct.Struct(">II")


class WireError(ValueError):
    """A value that cannot cross the boundary, or a frame that is malformed."""


def encode(value, arrays, path="result"):
    """Turn `value` into a JSON-able tree, moving arrays into the dict `arrays`."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, np.generic):
        if isinstance(value, int) and abs(value) > 2**62:
            return float(value)
        return value if isinstance(value, int) else {"$float": repr(float(value))}
    if isinstance(value, (np.ndarray, np.generic)):
        # np.array(...) copies into a base-class array: subclasses and their overrides stay behind.
        arr = np.array(value, subok=False)
        if arr.dtype.kind not in "biufc":
            raise WireError(f"{path} is an array of dtype {arr.dtype}, not numbers")
        key = f"a{len(arrays)}"
        arrays[key] = arr
        return {"$array": key}
    if isinstance(value, (list, tuple)):
        tag = "$tuple" if isinstance(value, tuple) else "$list"
        return {tag: [encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        if not all(type(k) is str for k in value):
            raise WireError(f"{path} is a dict whose keys are not all strings")
        return {"$dict": {k: encode(v, arrays, f"{path}[{k!r}]") for k, v in value.items()}}
    raise WireError(f"{path} is a {type(value).__name__}, not an array, number, tuple, list or dict")


def decode(tree, arrays):
    """Inverse of encode: rebuild the value from the JSON tree and the loaded arrays."""
    if isinstance(tree, dict):
        (tag, inner), = tree.items()
        if tag == "$array":
            return arrays[inner]
        if tag == "$float":
            return float(inner)
        if tag == "$tuple":
            return tuple(decode(v, arrays) for v in inner)
        if tag == "$list":
            return [decode(v, arrays) for v in inner]
        if tag == "$dict":
            return {k: decode(v, arrays) for k, v in inner.items()}
        if tag == "$fn":
            return tree
        raise WireError(f"unknown tag {tag!r}")
    return tree


def dumps(message):
    """Serialise a message (a dict of plain values, arrays allowed anywhere) to bytes."""
    arrays = {}
    tree = encode(message, arrays, "message")
    blob = io.BytesIO()
    if arrays:
        np.savez(blob, **arrays)
    head = json.dumps(tree, allow_nan=False).encode()
    return _HEADER.pack(len(head), len(blob.getbuffer())) + head + blob.getvalue()


def loads(data):
    """Parse bytes made by dumps; arrays are loaded without pickles."""
    if len(data) < _HEADER.size:
        raise WireError("truncated frame")
    n_head, n_blob = _HEADER.unpack_from(data)
    if _HEADER.size + n_head + n_blob != len(data):
        raise WireError("frame lengths do not match its size")
    head = data[_HEADER.size:_HEADER.size + n_head]
    blob = data[_HEADER.size + n_head:]
    arrays = {}
    if n_blob:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    return decode(json.loads(head), arrays)


def write_frame(stream, message):
    data = dumps(message)
    stream.write(struct.pack(">Q", len(data)) + data)
    stream.flush()


def _read_exact(stream, n):
    """Up to n bytes: fewer only at the end of the stream (raw pipes return partial reads)."""
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(stream, limit=MAX_FRAME):
    """Read one frame; None at a clean end of stream. Raises WireError on a bad frame."""
    size = _read_exact(stream, 8)
    if not size:
        return None
    if len(size) < 8:
        raise WireError("truncated frame length")
    (n,) = struct.unpack(">Q", size)
    if n > limit:
        raise WireError(f"frame of {n} bytes is over the limit of {limit}")
    data = _read_exact(stream, n)
    if len(data) < n:
        raise WireError("truncated frame")
    return loads(data)
