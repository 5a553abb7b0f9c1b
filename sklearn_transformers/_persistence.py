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

The hyperparameters and fitted attributes are JSON in the encoding of
:mod:`._persistence_json`, which keeps Python and numpy types exactly.
"""

import hashlib
import json
import os
import secrets
import stat
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial

import torch
from safetensors.torch import save as save_tensors

from . import _persistence_file
from ._persistence_file import add_part, open_model_file, tensor_description
from ._persistence_json import decode, dumps, encode, json_list

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "INVALID_DATA_ERRORS",
    "ModelRecord",
    "check_optimizer_state",
    "decode",
    "encode",
    "read_record",
    "save_record",
]

FORMAT = "sklearn-transformers"
FORMAT_VERSION = 1

# Errors that invalid data raises while a record is decoded from a file.
INVALID_DATA_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
)

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
        "params": dumps(
            {
                name: encode(v, f"parameter {name!r}")
                for name, v in record.params.items()
            }
        ),
        "fitted": dumps(fitted),
        "optimizer": dumps(optimizer),
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
    largest = max(fitted, key=lambda name: len(dumps(fitted[name])), default="")
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
        except INVALID_DATA_ERRORS as exc:
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
    groups = json_list(data["param_groups"])
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
    indices = sorted(i for group in groups for i in json_list(group["params"]))
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
