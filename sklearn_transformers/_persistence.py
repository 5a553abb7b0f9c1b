"""Saving a fitted estimator's record to one safetensors file, and reading it back.

The estimator hands this module one plain :class:`ModelRecord` (its
hyperparameters, fitted attributes, module state, optimizer state and extra
text blobs) and gets one back; nothing here touches an estimator.

The file is a plain `safetensors <https://huggingface.co/docs/safetensors>`_
file: a JSON header, then raw tensor bytes. Reading it parses data only:
nothing is unpickled and no code stored in the file can run.

Tensors
    ``module.<name>``: the torch module's ``state_dict()``;
    ``optimizer.<i>.<key>``: the AdamW state of the module's ``i``-th
    parameter (``exp_avg``, ``exp_avg_sq``, ``step``), so that ``partial_fit``
    or a ``warm_start`` fit after loading continues exactly as it would have.

Header metadata (str -> str)
    ``format``: ``"sklearn-transformers"`` (files without it are refused);
    ``format_version``: ``"1"``;
    ``estimator``: the estimator's class name;
    ``library_version``: the package version that wrote the file;
    ``params``: the hyperparameters as JSON;
    ``fitted``: the fitted attributes as JSON;
    ``optimizer``: the optimizer's non-tensor state as JSON (param groups);
    ``extra.<name>``: named text blobs (tokenizer files, settings);
    ``sha256``: a digest over every other metadata entry and every tensor's
    name, dtype, shape and bytes, which detects damaged or edited files.

Saving is atomic: the file is written beside the target under a temporary
name, flushed to disk, then renamed over the target, so a failed save leaves
any earlier file whole. Reading is bounded: :mod:`._persistence_file` checks
the layout and checksum before anything is decoded, decoded arrays may not
outgrow the file, and module tensors are read straight into the module.

The JSON encoding (:func:`encode` / :func:`decode`) keeps types exactly:
tuples, dicts with non-str keys, numpy arrays and scalars (dtype and shape
kept; numbers as their raw bytes, so floats are bit-exact), skorch
``History``, non-finite floats, and text that UTF-8 cannot store (lone
surrogates, as their code points) are written as objects tagged with
``"__type__"``; everything else is plain JSON.
"""

import base64
import hashlib
import json
import math
import os
import re
import secrets
import stat
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from safetensors.torch import save as save_tensors
from skorch.history import History

from . import _persistence_file
from ._persistence_file import add_part, open_model_file, tensor_description

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelRecord",
    "check_optimizer_state",
    "decode",
    "encode",
    "read_record",
    "save_record",
]

FORMAT = "sklearn-transformers"
FORMAT_VERSION = 1

_TAG = "__type__"
# numpy dtype kinds stored as raw bytes: bool, integers, floats, complex,
# bytes, datetimes and timedeltas. Text ("U") is stored as a list of str,
# object arrays element by element.
_RAW_KINDS = frozenset("biufcSMm")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MODULE = "module."
_OPTIMIZER = "optimizer."
_EXTRA = "extra."
_REQUIRED_KEYS = (
    "format",
    "format_version",
    "estimator",
    "library_version",
    "params",
    "fitted",
    "optimizer",
    "sha256",
)
# Decoded arrays may hold at most this many bytes, plus 4 per byte of file.
_DECODE_ALLOWANCE = 16 << 20


@dataclass
class ModelRecord:
    """Everything ``save`` stores of a fitted estimator, as plain data.

    Attributes
    ----------
    estimator : str
        The class name.
    params : dict
        Hyperparameters, as :func:`encode` takes them.
    fitted : dict
        Fitted attributes (name -> value), as :func:`encode` takes them.
    module_state : mapping of str -> torch.Tensor
        The module's ``state_dict()``. After :func:`read_record`, a
        :class:`StoredTensors` that reads them from the open file on demand.
    optimizer_state : dict or None
        The optimizer's ``state_dict()``, or None.
    extras : dict of str -> str
        Named text blobs.
    source : str
        The file read (for messages); empty when saving.
    """

    estimator: str
    params: dict
    fitted: dict
    module_state: object
    optimizer_state: dict = None
    extras: dict = field(default_factory=dict)
    source: str = ""


# --------------------------------------------------------------- encoding
def encode(value, where="value"):
    """Turn ``value`` into JSON data that :func:`decode` turns back exactly.

    Parameters
    ----------
    value : object
        None, bool, int, float, str, list, tuple, dict, numpy array or
        scalar, or skorch ``History``, nested in any way.
    where : str, default="value"
        What ``value`` is, for the error message.

    Returns
    -------
    data : object
        JSON-serialisable data.

    Raises
    ------
    TypeError
        If ``value`` holds an object of another type.
    """
    kind = type(value)
    if value is None or kind in (bool, int):
        return value
    if kind is str:
        if value.isascii() or not _SURROGATE.search(value):
            return value
        # Lone surrogates (from undecodable bytes) have no UTF-8 form.
        return {_TAG: "str", "codes": [ord(c) for c in value]}
    if kind is float:
        if math.isfinite(value):
            return value
        return {_TAG: "float", "value": repr(value)}
    if kind is list:
        return [encode(item, where) for item in value]
    if kind is tuple:
        return {_TAG: "tuple", "items": [encode(item, where) for item in value]}
    if kind is dict:
        if _TAG not in value and all(_plain_key(key) for key in value):
            return {key: encode(item, where) for key, item in value.items()}
        return {
            _TAG: "dict",
            "items": [[encode(k, where), encode(v, where)] for k, v in value.items()],
        }
    if kind is History:
        return {_TAG: "history", "items": encode(list(value), where)}
    if kind is np.ndarray:
        return _encode_array(value, where)
    if isinstance(value, np.generic):
        return {_TAG: "scalar", "value": _encode_array(np.asarray(value), where)}
    raise TypeError(
        f"{where} holds a {kind.__module__}.{kind.__qualname__} ({value!r:.80}), "
        "which cannot be saved: only None, bool, int, float, str, list, tuple, "
        "dict, numpy arrays and scalars, and skorch History can."
    )


def _encode_array(array, where):
    dtype = array.dtype
    head = {_TAG: "ndarray", "dtype": dtype.str, "shape": list(array.shape)}
    if dtype.kind in _RAW_KINDS and not dtype.hasobject:
        raw = np.ascontiguousarray(array).tobytes()
        return {**head, "bytes": base64.b64encode(raw).decode("ascii")}
    if dtype.kind == "U":
        return {**head, "str": [encode(item, where) for item in array.ravel().tolist()]}
    if dtype.kind == "O":
        return {**head, "items": [encode(item, where) for item in array.ravel()]}
    raise TypeError(
        f"{where} holds a numpy array of dtype {dtype}, which cannot be saved."
    )


def _plain_key(key):
    return type(key) is str and (key.isascii() or not _SURROGATE.search(key))


def decode(data, budget=None):
    """Inverse of :func:`encode`.

    ``budget``: a one-element list holding the bytes that decoded numpy
    arrays may still take (None: no limit); each array is charged before it
    is allocated.

    Raises
    ------
    ValueError
        If ``data`` is not something :func:`encode` writes, or its arrays
        would outgrow ``budget``.
    """
    decode_ = partial(decode, budget=budget)
    if isinstance(data, list):
        return [decode_(item) for item in data]
    if not isinstance(data, dict):
        if data is None or type(data) in (bool, int, float, str):
            return data
        raise ValueError(f"unexpected JSON value {data!r:.80}")
    if _TAG not in data:
        return {key: decode_(item) for key, item in data.items()}
    tag = data[_TAG]
    if tag == "str":
        codes = _list(data["codes"])
        if not all(type(c) is int and 0 <= c <= 0x10FFFF for c in codes):
            raise ValueError("invalid code points in an encoded str")
        return "".join(map(chr, codes))
    if tag == "float":
        value = data["value"]
        if value not in ("nan", "inf", "-inf"):
            raise ValueError(f"unexpected float {value!r:.80}")
        return float(value)
    if tag == "tuple":
        return tuple(decode_(_list(data["items"])))
    if tag == "dict":
        return {decode_(k): decode_(v) for k, v in map(_pair, _list(data["items"]))}
    if tag == "history":
        return History(decode_(_list(data["items"])))
    if tag == "ndarray":
        return _decode_array(data, budget)
    if tag == "scalar":
        array = _decode_array(data["value"], budget)
        if array.ndim or array.dtype.kind == "O":
            raise ValueError("a numpy scalar must be a 0-d array of a numpy dtype")
        return array[()]
    raise ValueError(f"unknown {_TAG} {tag!r:.80}")


def _decode_array(data, budget):
    if not isinstance(data, dict) or data.get(_TAG) != "ndarray":
        raise ValueError("expected an encoded numpy array")
    if not isinstance(data["dtype"], str):
        raise ValueError(f"invalid dtype {data['dtype']!r:.80}")
    dtype = np.dtype(data["dtype"])
    shape = tuple(_list(data["shape"]))
    if not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"invalid array shape {shape!r:.80}")
    size = math.prod(shape)
    _charge(budget, size * dtype.itemsize, dtype, shape)
    if "bytes" in data and dtype.kind in _RAW_KINDS and not dtype.hasobject:
        raw = base64.b64decode(data["bytes"], validate=True)
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "str" in data and dtype.kind == "U":
        items = [decode(item, budget) for item in _list(data["str"])]
        if not all(type(item) is str for item in items) or len(items) != size:
            raise ValueError("a text array must hold one str per element")
        return np.array(items, dtype=dtype).reshape(shape)
    if "items" in data and dtype.kind == "O":
        items = [decode(item, budget) for item in _list(data["items"])]
        array = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):  # item by item: lists stay objects
            array[i] = item
        return array.reshape(shape)
    raise ValueError(f"invalid encoded array of dtype {dtype}")


def _charge(budget, nbytes, dtype, shape):
    """Take ``nbytes`` from ``budget`` before allocating them."""
    if budget is None:
        return
    if nbytes > budget[0]:
        raise ValueError(
            f"an array of dtype {dtype} and shape {shape!r:.80} would take "
            f"{nbytes:,} bytes, more than a file of this size can describe"
        )
    budget[0] -= nbytes


def _list(value):
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON list, got {value!r:.80}")
    return value


def _pair(value):
    if len(_list(value)) != 2:
        raise ValueError(f"expected a [key, value] pair, got {value!r:.80}")
    return value


def _dumps(data):
    return json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


# ------------------------------------------------------------------- save
def save_record(record, path, *, version):
    """Write ``record`` to ``path`` atomically; see the module docstring.

    Raises
    ------
    ValueError
        If ``path`` is a directory, or the record is too large for a
        safetensors header; nothing is written then.
    TypeError
        If the record holds a value :func:`encode` cannot store.
    """
    fitted = {
        name: encode(value, f"fitted attribute {name!r}")
        for name, value in record.fitted.items()
    }
    tensors = {
        _MODULE + name: _cpu_copy(tensor)
        for name, tensor in record.module_state.items()
    }
    optimizer = None
    if record.optimizer_state is not None:
        optimizer, optimizer_tensors = _split_optimizer_state(record.optimizer_state)
        tensors.update(optimizer_tensors)
    if not all(type(k) is str and type(v) is str for k, v in record.extras.items()):
        raise TypeError("the extra blobs of a model record must be str -> str.")
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "estimator": record.estimator,
        "library_version": version,
        "params": _dumps(
            {
                name: encode(v, f"parameter {name!r}")
                for name, v in record.params.items()
            }
        ),
        "fitted": _dumps(fitted),
        "optimizer": _dumps(optimizer),
        **{_EXTRA + name: text for name, text in record.extras.items()},
    }
    _check_header(metadata, fitted, tensors)
    metadata["sha256"] = _digest(metadata, tensors)
    write_atomically(path, save_tensors(tensors, metadata=metadata))


def _check_header(metadata, fitted, tensors):
    """Refuse, with advice, metadata that safetensors could not store."""
    for key, text in metadata.items():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"the saved entry {key!r} holds text that UTF-8 cannot store "
                f"({exc.reason} at position {exc.start})."
            ) from None
    size = sum(len(k) + len(v.encode()) + 8 for k, v in metadata.items())
    size += 128 * (len(tensors) + 2)  # tensor entries, the sha256, braces
    if size <= _persistence_file.MAX_HEADER_BYTES:
        return
    largest = max(fitted, key=lambda name: len(_dumps(fitted[name])), default="")
    raise ValueError(
        f"The model's JSON state takes about {size:,} bytes, more than the "
        f"{_persistence_file.MAX_HEADER_BYTES:,} a safetensors header may hold; "
        f"the largest part is the fitted attribute {largest!r}. For a text "
        "model, refit with a smaller vocabulary (max_features, or a larger "
        "min_df), or keep the estimator with pickle/joblib, which have no "
        "such limit."
    )


def write_atomically(path, data):
    """Write ``data`` to ``path`` so that ``path`` is never left half-written.

    The bytes go to a new file in the same folder, which is flushed and
    fsync'ed, given the mode of the file it replaces, and renamed over
    ``path`` (``os.replace`` is atomic). A symbolic link at ``path`` is
    followed: its target is replaced. On any failure the temporary file is
    removed and ``path`` is as it was.
    """
    target = os.path.realpath(os.fspath(path))
    if os.path.isdir(target):
        raise ValueError(
            f"{os.fspath(path)!r} is a directory; save() needs a file path "
            "such as 'model.safetensors'."
        )
    folder, base = os.path.split(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    temporary = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temporary, flags, 0o666)  # the umask applies, as for open()
    try:
        with open(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(folder)


def _sync_folder(folder):
    """Make the rename durable where folders can be fsync'ed (POSIX)."""
    with suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _cpu_copy(tensor):
    # A copy: safetensors refuses tensors that share memory.
    return tensor.detach().to("cpu", copy=True).contiguous()


def _split_optimizer_state(state):
    """Optimizer ``state_dict()`` -> (JSON part, tensors ``optimizer.<i>.<key>``)."""
    tensors, rest = {}, {}
    for index, entries in state["state"].items():
        rest[str(index)] = {}
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{_OPTIMIZER}{index}.{key}"] = _cpu_copy(value)
            else:
                rest[str(index)][key] = value
    data = {"param_groups": state["param_groups"], "state": rest}
    return encode(data, "the optimizer state"), tensors


def _add_metadata(metadata, digest):
    for key in sorted(metadata):
        if key != "sha256":
            add_part(digest, key.encode())
            add_part(digest, metadata[key].encode())


def _digest(metadata, tensors):
    """SHA-256 over the metadata (but ``sha256``) and the tensors, in name order."""
    digest = hashlib.sha256()
    _add_metadata(metadata, digest)
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        add_part(digest, tensor_description(name, tensor.dtype, tensor.shape))
        add_part(digest, tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# ------------------------------------------------------------------- load
class StoredTensors:
    """The module tensors of an open model file, read on demand.

    ``shapes`` maps each name to ``(dtype, shape)``; :meth:`read_into` fills
    a module's ``state_dict()`` in place, so no second copy is made.
    """

    def __init__(self, file, names):
        self._file = file
        self._names = names  # module name -> name in the file
        self.shapes = {name: file.tensors[stored][:2] for name, stored in names.items()}

    def read_into(self, state):
        """Copy every tensor into ``state`` (a ``state_dict()``, same keys)."""
        for name, target in state.items():
            with torch.no_grad():
                self._file.read(self._names[name], out=target)


@contextmanager
def read_record(path):
    """Check the file at ``path``; yield its :class:`ModelRecord`.

    The record's ``module_state`` is a :class:`StoredTensors` that reads from
    the open file, so use it inside the ``with`` block.

    Raises
    ------
    ValueError
        Naming the file, when it is a directory or not a regular file, not
        a safetensors file, not one of ours, of another format version,
        damaged or edited, or holds invalid data.
    """
    with open_model_file(path) as file:
        metadata = _checked_metadata(file)
        if file.digest(partial(_add_metadata, metadata)) != metadata["sha256"]:
            raise file.refuse(
                "is damaged or was edited: its checksum does not match its content."
            )
        try:
            record = _record(file, metadata)
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            OverflowError,
            RecursionError,
        ) as exc:
            raise file.refuse(
                f"holds invalid model data: {exc}. The file is damaged or was edited."
            ) from exc
        yield record


def _checked_metadata(file):
    """The metadata, checked for our marker, version and keys."""
    metadata = file.metadata
    if metadata.get("format") != FORMAT:
        raise file.refuse(
            "is not an sklearn-transformers model file: its safetensors header "
            f"has no format={FORMAT!r} entry."
        )
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        newer = isinstance(version, str) and version.isdigit()
        newer = newer and len(version) < 10 and int(version) > FORMAT_VERSION
        raise file.refuse(
            f"has format_version={version!r:.40}, but this version of "
            f"sklearn-transformers reads format_version={FORMAT_VERSION!r}"
            + ("; upgrade sklearn-transformers to load it." if newer else ".")
        )
    missing = [key for key in _REQUIRED_KEYS if key not in metadata]
    if missing:
        raise file.refuse(f"is damaged or was edited: its metadata lacks {missing}.")
    unknown = [
        key
        for key in metadata
        if key not in _REQUIRED_KEYS and not key.startswith(_EXTRA)
    ]
    if unknown:
        raise file.refuse(
            f"is damaged or was edited: unexpected metadata {unknown!r:.200}."
        )
    for key, text in metadata.items():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise file.refuse(
                f"is damaged or was edited: metadata {key!r:.80} is not UTF-8 text."
            ) from None
    return metadata


def _record(file, metadata):
    """Decode the metadata, read the optimizer tensors; the module's stay lazy."""
    budget = [_DECODE_ALLOWANCE + 4 * file.size]
    params = decode(json.loads(metadata["params"]), budget)
    fitted = decode(json.loads(metadata["fitted"]), budget)
    optimizer = decode(json.loads(metadata["optimizer"]), budget)
    if not isinstance(params, dict) or not isinstance(fitted, dict):
        raise ValueError("params and fitted must be JSON objects")
    module_names, optimizer_tensors = {}, {}
    for name in file.tensors:
        if name.startswith(_MODULE):
            module_names[name[len(_MODULE) :]] = name
        elif name.startswith(_OPTIMIZER):
            optimizer_tensors[name[len(_OPTIMIZER) :]] = file.read(name)
        else:
            raise ValueError(f"unexpected tensor {name!r:.80}")
    if optimizer is None and optimizer_tensors:
        raise ValueError("optimizer tensors without optimizer state")
    return ModelRecord(
        estimator=metadata["estimator"],
        params=params,
        fitted=fitted,
        module_state=StoredTensors(file, module_names),
        optimizer_state=None
        if optimizer is None
        else _join_optimizer_state(optimizer, optimizer_tensors),
        extras={
            key[len(_EXTRA) :]: text
            for key, text in metadata.items()
            if key.startswith(_EXTRA)
        },
        source=file.name,
    )


def _join_optimizer_state(data, tensors):
    """Inverse of :func:`_split_optimizer_state`."""
    if not isinstance(data, dict) or not isinstance(data["state"], dict):
        raise ValueError("the optimizer state must be a JSON object")
    groups = _list(data["param_groups"])
    state = {}
    for index, entries in data["state"].items():
        if not isinstance(entries, dict):
            raise ValueError("invalid optimizer state entry")
        state[int(index)] = dict(entries)
    for key, tensor in tensors.items():
        index, _, entry = key.partition(".")
        index = int(index)
        if index not in state or not entry:
            raise ValueError(f"unexpected optimizer tensor {key!r:.80}")
        state[index][entry] = tensor
    return {"state": state, "param_groups": groups}


def check_optimizer_state(state, module):
    """Check that an optimizer ``state`` from a file fits ``module``'s parameters."""
    shapes = [parameter.shape for parameter in module.parameters()]
    groups = state["param_groups"]
    if not all(isinstance(group, dict) for group in groups):
        raise ValueError("invalid optimizer parameter groups")
    indices = sorted(i for group in groups for i in _list(group["params"]))
    if indices != list(range(len(shapes))) or not set(state["state"]) <= set(indices):
        raise ValueError("the optimizer state does not match the model's parameters")
    for index, entries in state["state"].items():
        for entry, tensor in entries.items():
            if isinstance(tensor, torch.Tensor) and tensor.ndim:
                if tensor.shape != shapes[index]:
                    raise ValueError(
                        f"optimizer tensor {index}.{entry} has shape "
                        f"{tuple(tensor.shape)}, but parameter {index} has "
                        f"shape {tuple(shapes[index])}"
                    )
