"""Reading a model file that may be damaged or hostile, in bounded memory.

:func:`open_model_file` checks a file before trusting any of it: that it is
a regular file (not a directory, FIFO, socket or device such as
``/dev/zero``), that its header length fits the file and safetensors' limit,
that the header is JSON of the safetensors layout (every tensor's dtype,
shape and byte range consistent, the ranges tiling the data exactly up to the
end of the file), that the metadata is ours and of this format version, and
that the SHA-256 in the metadata matches, streamed over the file a megabyte
at a time. Nothing is allocated in proportion to what the header *claims*;
tensors are read later, one at a time, into memory whose size the checked
byte ranges (so the file size) bound: :meth:`ModelFile.read` straight into a
module's own parameters.

Every refusal is a ``ValueError`` naming the file. Knows nothing of the
estimators.
"""

import hashlib
import json
import os
import stat

import torch

__all__ = ["MAX_HEADER_BYTES", "ModelFile", "add_part", "open_model_file"]

# safetensors refuses headers over 100 MB; so do we, before reading one.
MAX_HEADER_BYTES = 100_000_000
_CHUNK = 1 << 20  # bytes hashed at a time

# safetensors dtype codes -> torch dtypes.
DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def add_part(digest, part):
    """Feed ``part`` (bytes) to ``digest`` after its length, so parts cannot merge."""
    digest.update(len(part).to_bytes(8, "little"))
    digest.update(part)


def tensor_description(name, dtype, shape):
    """What the checksum records of a tensor besides its bytes."""
    return f"{name}|{dtype}|{list(shape)}".encode()


class ModelFile:
    """An opened, checked model file; see :func:`open_model_file`.

    Attributes
    ----------
    name : str
        The path, for messages.
    size : int
        File size in bytes.
    metadata : dict of str -> str
        The header's ``__metadata__``.
    tensors : dict of str -> (torch.dtype, tuple, int, int)
        Each tensor's dtype, shape, and byte range in the file.
    """

    def __init__(self, file, name, size):
        self._file = file
        self.name = name
        self.size = size
        self.metadata = {}
        self.tensors = {}

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def refuse(self, problem):
        return ValueError(f"{self.name!r} {problem}")

    def read(self, name, out=None):
        """Tensor ``name``, read into ``out`` (same dtype and shape) or a new one."""
        dtype, shape, start, end = self.tensors[name]
        if out is None:
            out = torch.empty(shape, dtype=dtype)
        elif out.dtype != dtype or tuple(out.shape) != shape:
            raise self.refuse(
                f"holds weights that do not fit the model it describes: {name!r} "
                f"is {dtype} {list(shape)}, the model expects {out.dtype} "
                f"{list(out.shape)}."
            )
        target = out if out.is_contiguous() else torch.empty_like(out)
        view = memoryview(target.reshape(-1).view(torch.uint8).numpy())
        self._file.seek(start)
        done = 0
        while done < end - start:
            n = self._file.readinto(view[done:])
            if not n:
                raise self.refuse("was truncated while it was read.")
            done += n
        if target is not out:
            out.copy_(target)
        return out

    def digest(self, metadata_part):
        """SHA-256 over ``metadata_part``'s digest input and every tensor."""
        digest = hashlib.sha256()
        metadata_part(digest)
        buffer = bytearray(_CHUNK)
        for name in sorted(self.tensors):
            dtype, shape, start, end = self.tensors[name]
            add_part(digest, tensor_description(name, dtype, shape))
            digest.update((end - start).to_bytes(8, "little"))
            self._file.seek(start)
            left = end - start
            while left:
                n = self._file.readinto(memoryview(buffer)[: min(left, _CHUNK)])
                if not n:
                    raise self.refuse("was truncated while it was read.")
                digest.update(memoryview(buffer)[:n])
                left -= n
        return digest.hexdigest()


def open_model_file(path):
    """Open ``path`` and check its layout; return a :class:`ModelFile`.

    Raises
    ------
    ValueError
        If ``path`` is a directory or not a regular file, or not a
        well-formed safetensors file (truncated, empty, of another kind).
    """
    name = os.fspath(path)
    file = _open_regular(name)
    try:
        model = ModelFile(file, name, os.fstat(file.fileno()).st_size)
        header, data_start = _read_header(model)
        _read_layout(model, header, data_start)
        return model
    except BaseException:
        file.close()
        raise


def _open_regular(name):
    """Open ``name`` for reading without blocking; refuse all but regular files."""
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(name, flags)
    except IsADirectoryError:
        raise ValueError(
            f"{name!r} is a directory, not a model file; give the path of a "
            "file written by save()."
        ) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise ValueError(
            f"{name!r} is {kind} (a directory, device, FIFO or socket cannot "
            "hold a model); give the path of a file written by save()."
        )
    return os.fdopen(fd, "rb", buffering=0)


def _read_exactly(model, n):
    data = model._file.read(n)
    if len(data) != n:
        raise model.refuse("was truncated while it was read.")
    return data


def _read_header(model):
    """The parsed safetensors header, and where the tensor data starts."""
    not_safetensors = (
        "is not a safetensors model file (it may be truncated, empty or of "
        "another kind)."
    )
    if model.size < 8:
        raise model.refuse(not_safetensors)
    size = int.from_bytes(_read_exactly(model, 8), "little")
    if size < 2 or size > model.size - 8:
        raise model.refuse(not_safetensors)
    if size > MAX_HEADER_BYTES:
        raise model.refuse(
            f"has a {size:,}-byte header, more than safetensors' limit of "
            f"{MAX_HEADER_BYTES:,}: it is not a model file save() wrote."
        )
    raw = _read_exactly(model, size)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise model.refuse(not_safetensors) from exc
    if not isinstance(header, dict):
        raise model.refuse(not_safetensors)
    return header, 8 + size


def _read_layout(model, header, data_start):
    """Check the tensor table against the file; fill ``model.tensors``."""
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or not all(
        isinstance(value, str) for value in metadata.values()
    ):
        metadata = {}
    model.metadata = metadata
    spans = []
    for name, entry in header.items():
        dtype, shape, begin, end = _tensor_entry(model, name, entry)
        model.tensors[name] = (dtype, shape, data_start + begin, data_start + end)
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise model.refuse(
                "is damaged or was edited: its tensors' byte ranges overlap or "
                "leave gaps."
            )
        position = end
    if data_start + position != model.size:
        raise model.refuse(
            "is a damaged or truncated model file: its tensors do not end "
            "where the file ends."
        )


def _tensor_entry(model, name, entry):
    bad = model.refuse(f"is damaged or was edited: invalid tensor entry {name!r:.80}.")
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise bad
    dtype = DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    shape, offsets = entry["shape"], entry["data_offsets"]
    if (
        dtype is None
        or not _ints(shape)
        or not _ints(offsets)
        or len(offsets) != 2
        or offsets[0] > offsets[1]
    ):
        raise bad
    numel = 1
    for n in shape:
        numel *= n
    if numel * dtype.itemsize != offsets[1] - offsets[0]:
        raise bad
    return dtype, tuple(shape), offsets[0], offsets[1]


def _ints(values):
    return isinstance(values, list) and all(type(n) is int and n >= 0 for n in values)
