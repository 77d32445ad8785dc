"""Plain data across the sandbox boundary: a JSON tree plus NumPy arrays, never a pickle.

A value is encoded as JSON in which every array is replaced by {"$array": key}, and the
arrays travel in an .npz blob loaded with allow_pickle=False. One message on a pipe is a
frame: an 8-byte header (two big-endian uint32 lengths, JSON then npz) and the two parts.

Frames that come back from the sandbox are untrusted: `FrameReader` collects them without
ever blocking, and `loads` refuses a JSON part over its limit and any array whose declared
size is larger than the bytes that carry it, before anything is allocated.
"""
import io
import json
import math
import struct
import zipfile

import numpy as np

MAX_FRAME = 256 * 2**20          # bytes; larger frames are refused, not read
MAX_HEAD = 4 * 2**20             # bytes of JSON in one frame (arrays travel in the npz part)
MAX_ARRAYS = 10_000              # arrays in one frame
_HEADER = struct.Struct(">II")
_LENGTH = struct.Struct(">Q")


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
    if n_head > MAX_HEAD:
        raise WireError(f"the JSON part of a frame is over the limit of {MAX_HEAD} bytes")
    head = data[_HEADER.size:_HEADER.size + n_head]
    blob = data[_HEADER.size + n_head:]
    arrays = {}
    if n_blob:
        _check_npz(blob)
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    try:
        tree = json.loads(head)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"the JSON part of a frame cannot be read ({type(exc).__name__})") from None
    return decode(tree, arrays)


def _check_npz(blob):
    """Refuse an npz whose arrays would take more memory than the bytes that carry them."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            members = zf.infolist()
            if len(members) > MAX_ARRAYS:
                raise WireError(f"a frame holds more than {MAX_ARRAYS} arrays")
            for info in members:
                if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                    raise WireError("a frame holds a compressed array")
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = reader(f)
                if dtype.hasobject or math.prod(shape) * dtype.itemsize > info.file_size:
                    raise WireError("a frame holds an array larger than its data")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise WireError(f"the arrays of a frame cannot be read ({exc})") from None


def frame_bytes(message):
    data = dumps(message)
    return _LENGTH.pack(len(data)) + data


def write_frame(stream, message):
    stream.write(frame_bytes(message))
    stream.flush()


class FrameReader:
    """Collects frames from bytes as they arrive (never blocks); refuses oversize frames."""

    def __init__(self, limit):
        self.limit, self.buffer = limit, bytearray()

    def feed(self, data):
        """Add bytes; return the complete frames' payloads (bytes), in order."""
        self.buffer += data
        frames = []
        while len(self.buffer) >= _LENGTH.size:
            (n,) = _LENGTH.unpack_from(self.buffer)
            if n > self.limit:
                raise WireError(f"a frame of {n:,} bytes is over the limit of {self.limit:,}")
            if len(self.buffer) < _LENGTH.size + n:
                break
            frames.append(bytes(self.buffer[_LENGTH.size:_LENGTH.size + n]))
            del self.buffer[:_LENGTH.size + n]
        return frames


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
