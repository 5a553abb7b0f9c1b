"""Saving a fitted estimator to one safetensors file, and loading it back.

The file is a plain `safetensors <https://huggingface.co/docs/safetensors>`_
file: a JSON header, then raw tensor bytes. Loading reads data only: nothing
is unpickled and no code stored in the file can run.

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
    ``params``: ``get_params(deep=False)`` as JSON;
    ``fitted``: the fitted state as JSON: every instance attribute that is not
    a hyperparameter, except the class's ``_not_persisted`` ones (the skorch
    net, the torch module, the optimizer state kept in tensors);
    ``optimizer``: the optimizer's non-tensor state as JSON (param groups);
    ``extra.<name>``: text blobs from the estimator's ``_persist_extra()``;
    ``sha256``: a digest over every other metadata entry and every tensor's
    name, dtype, shape and bytes, which detects damaged or edited files.

The JSON encoding (:func:`encode` / :func:`decode`) keeps types exactly:
tuples, dicts with non-str keys, numpy arrays and scalars (dtype and shape
kept; numbers as their raw bytes, so floats are bit-exact), skorch
``History``, and non-finite floats are written as objects tagged with
``"__type__"``; everything else is plain JSON.
"""

import base64
import hashlib
import json
import math
import os
import warnings

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from skorch.history import History

__all__ = ["FORMAT", "FORMAT_VERSION", "decode", "encode", "load_estimator"]

FORMAT = "sklearn-transformers"
FORMAT_VERSION = 1

_TAG = "__type__"
# numpy dtype kinds stored as raw bytes: bool, integers, floats, complex,
# bytes, datetimes and timedeltas. Text ("U") is stored as a list of str,
# object arrays element by element.
_RAW_KINDS = frozenset("biufcSMm")
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
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        return {_TAG: "float", "value": repr(value)}
    if kind is list:
        return [encode(item, where) for item in value]
    if kind is tuple:
        return {_TAG: "tuple", "items": [encode(item, where) for item in value]}
    if kind is dict:
        if _TAG not in value and all(type(key) is str for key in value):
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
        return {**head, "str": array.ravel().tolist()}
    if dtype.kind == "O":
        return {**head, "items": [encode(item, where) for item in array.ravel()]}
    raise TypeError(
        f"{where} holds a numpy array of dtype {dtype}, which cannot be saved."
    )


def decode(data):
    """Inverse of :func:`encode`.

    Raises
    ------
    ValueError
        If ``data`` is not something :func:`encode` writes.
    """
    if isinstance(data, list):
        return [decode(item) for item in data]
    if not isinstance(data, dict):
        if data is None or type(data) in (bool, int, float, str):
            return data
        raise ValueError(f"unexpected JSON value {data!r:.80}")
    if _TAG not in data:
        return {key: decode(item) for key, item in data.items()}
    tag = data[_TAG]
    if tag == "float":
        value = data["value"]
        if value not in ("nan", "inf", "-inf"):
            raise ValueError(f"unexpected float {value!r:.80}")
        return float(value)
    if tag == "tuple":
        return tuple(decode(_list(data["items"])))
    if tag == "dict":
        return {decode(k): decode(v) for k, v in map(_pair, _list(data["items"]))}
    if tag == "history":
        return History(decode(_list(data["items"])))
    if tag == "ndarray":
        return _decode_array(data)
    if tag == "scalar":
        array = _decode_array(data["value"])
        if array.ndim or array.dtype.kind == "O":
            raise ValueError("a numpy scalar must be a 0-d array of a numpy dtype")
        return array[()]
    raise ValueError(f"unknown {_TAG} {tag!r:.80}")


def _decode_array(data):
    if not isinstance(data, dict) or data.get(_TAG) != "ndarray":
        raise ValueError("expected an encoded numpy array")
    if not isinstance(data["dtype"], str):
        raise ValueError(f"invalid dtype {data['dtype']!r:.80}")
    dtype = np.dtype(data["dtype"])
    shape = tuple(_list(data["shape"]))
    if not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"invalid array shape {shape!r:.80}")
    if "bytes" in data and dtype.kind in _RAW_KINDS and not dtype.hasobject:
        raw = base64.b64decode(data["bytes"], validate=True)
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "str" in data and dtype.kind == "U":
        items = _list(data["str"])
        if not all(type(item) is str for item in items):
            raise ValueError("a text array may only hold str")
        return np.array(items, dtype=dtype).reshape(shape)
    if "items" in data and dtype.kind == "O":
        items = [decode(item) for item in _list(data["items"])]
        array = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):  # item by item: lists stay objects
            array[i] = item
        return array.reshape(shape)
    raise ValueError(f"invalid encoded array of dtype {dtype}")


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
def save_estimator(estimator, path, *, version, include_optimizer=True):
    """Write the fitted ``estimator`` to ``path``; see the module docstring.

    The caller checks that ``estimator`` is fitted. ``include_optimizer=False``
    leaves the optimizer state out.
    """
    params = _hyperparameters(estimator)
    fitted = {
        name: encode(value, f"fitted attribute {name!r}")
        for name, value in _fitted_state(estimator).items()
    }
    tensors = {
        _MODULE + name: _cpu_copy(tensor)
        for name, tensor in estimator.module_.state_dict().items()
    }
    optimizer = None
    state = estimator._optimizer_state() if include_optimizer else None
    if state is not None:
        optimizer, optimizer_tensors = _split_optimizer_state(state)
        tensors.update(optimizer_tensors)
    extra = estimator._persist_extra()
    if not isinstance(extra, dict) or not all(
        type(k) is str and type(v) is str for k, v in extra.items()
    ):
        raise TypeError(
            f"{type(estimator).__name__}._persist_extra() must return a dict of "
            "str -> str."
        )
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "estimator": type(estimator).__name__,
        "library_version": version,
        "params": _dumps(params),
        "fitted": _dumps(fitted),
        "optimizer": _dumps(optimizer),
        **{_EXTRA + name: text for name, text in extra.items()},
    }
    metadata["sha256"] = _digest(metadata, tensors)
    data = save_tensors(tensors, metadata=metadata)
    with open(path, "wb") as file:
        file.write(data)


def _hyperparameters(estimator):
    """``get_params(deep=False)``, encoded; training-only objects become None."""
    encoded, dropped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        if isinstance(value, (torch.device, os.PathLike)):
            value = str(value) if isinstance(value, torch.device) else os.fspath(value)
        try:
            encoded[name] = encode(value, f"parameter {name!r}")
        except TypeError:
            if name in estimator._training_only_params:
                encoded[name] = None
                dropped.append(name)
            elif callable(value):
                raise ValueError(
                    f"{type(estimator).__name__} cannot be saved with {name}="
                    f"{value!r}: a callable is code, and the file stores data "
                    f"only. Refit with {name}=None (or keep the estimator with "
                    "pickle/joblib, which store code)."
                ) from None
            else:
                raise
    if dropped:
        warnings.warn(
            f"{', '.join(dropped)}: objects, not data, and used in training "
            "only; saved as None. Set them again after loading to train with them.",
            UserWarning,
            stacklevel=4,
        )
    return encoded


def _fitted_state(estimator):
    params = estimator.get_params(deep=False)
    skip = set(estimator._not_persisted)
    return {
        name: value
        for name, value in vars(estimator).items()
        if name not in params and name not in skip
    }


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


def _digest(metadata, tensors):
    """SHA-256 over the metadata (but ``sha256``) and the tensors, in name order."""
    digest = hashlib.sha256()

    def add(part):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)

    for key in sorted(metadata):
        if key != "sha256":
            add(key.encode())
            add(metadata[key].encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        add(f"{name}|{tensor.dtype}|{list(tensor.shape)}".encode())
        add(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# ------------------------------------------------------------------- load
def load_estimator(cls, path, *, device, map_location):
    """Read a file written by :func:`save_estimator` as a fitted ``cls``.

    ``device`` becomes the estimator's ``device`` parameter; the weights are
    placed on ``map_location`` (a ``torch.device``).

    Raises
    ------
    ValueError
        Naming the file, when it is not a safetensors file, not one of ours,
        of a newer format, damaged or edited, or holds another class.
    """
    name = os.fspath(path)
    with open(path, "rb") as file:
        raw = file.read()
    metadata = _read_metadata(raw, name)
    try:
        tensors = load_tensors(raw)
    except Exception as exc:  # safetensors raises its own error types
        raise ValueError(
            f"{name!r} is a damaged or truncated model file: its tensors cannot "
            f"be read ({exc})."
        ) from exc
    if metadata["sha256"] != _digest(metadata, tensors):
        raise ValueError(
            f"{name!r} is damaged or was edited: its checksum does not match "
            "its content."
        )
    if metadata["estimator"] != cls.__name__:
        raise ValueError(
            f"{name!r} holds a fitted {metadata['estimator']}, not a "
            f"{cls.__name__}; load it with {metadata['estimator']}.load()."
        )
    try:
        return _rebuild(cls, metadata, tensors, device, map_location)
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise ValueError(
            f"{name!r} holds invalid model data: {exc}. The file is damaged or "
            "was edited."
        ) from exc
    except RuntimeError as exc:  # load_state_dict, deep JSON recursion
        raise ValueError(
            f"{name!r} holds weights that do not fit the model it describes: {exc}"
        ) from exc


def _read_metadata(raw, name):
    """The header metadata; checks the safetensors layout, marker and version."""
    not_safetensors = (
        f"{name!r} is not a safetensors model file (it may be truncated, empty "
        "or of another kind)."
    )
    if len(raw) < 8:
        raise ValueError(not_safetensors)
    size = int.from_bytes(raw[:8], "little")
    if size < 2 or 8 + size > len(raw):
        raise ValueError(not_safetensors)
    try:
        header = json.loads(raw[8 : 8 + size].decode("utf-8"))
    except ValueError as exc:
        raise ValueError(not_safetensors) from exc
    if not isinstance(header, dict):
        raise ValueError(not_safetensors)
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(
            f"{name!r} is not an sklearn-transformers model file: its "
            f"safetensors header has no format={FORMAT!r} entry."
        )
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        newer = isinstance(version, str) and version.isdigit()
        newer = newer and int(version) > FORMAT_VERSION
        raise ValueError(
            f"{name!r} has format_version={version!r}, but this version of "
            f"sklearn-transformers reads format_version={FORMAT_VERSION!r}"
            + ("; upgrade sklearn-transformers to load it." if newer else ".")
        )
    missing = [key for key in _REQUIRED_KEYS if key not in metadata]
    if missing:
        raise ValueError(
            f"{name!r} is damaged or was edited: its metadata lacks {missing}."
        )
    unknown = [
        key
        for key in metadata
        if key not in _REQUIRED_KEYS and not key.startswith(_EXTRA)
    ]
    if unknown or not all(isinstance(value, str) for value in metadata.values()):
        raise ValueError(
            f"{name!r} is damaged or was edited: unexpected metadata "
            f"{unknown or 'values'}."
        )
    return metadata


def _rebuild(cls, metadata, tensors, device, map_location):
    params = decode(json.loads(metadata["params"]))
    fitted = decode(json.loads(metadata["fitted"]))
    optimizer = decode(json.loads(metadata["optimizer"]))
    if not isinstance(params, dict) or not isinstance(fitted, dict):
        raise ValueError("params and fitted must be JSON objects")
    estimator = cls(**{**params, "device": device})
    estimator._validate_params()
    protected = {*params, *estimator._not_persisted}
    for attribute, value in fitted.items():
        if (
            not attribute.isidentifier()
            or attribute in protected
            or hasattr(cls, attribute)  # methods, properties, dunders
        ):
            raise ValueError(f"invalid fitted attribute name {attribute!r:.80}")
        setattr(estimator, attribute, value)
    estimator._restore_extra(
        {
            key[len(_EXTRA) :]: text
            for key, text in metadata.items()
            if key.startswith(_EXTRA)
        }
    )

    module_state, optimizer_tensors = {}, {}
    for tensor_name, tensor in tensors.items():
        if tensor_name.startswith(_MODULE):
            module_state[tensor_name[len(_MODULE) :]] = tensor
        elif tensor_name.startswith(_OPTIMIZER):
            optimizer_tensors[tensor_name[len(_OPTIMIZER) :]] = tensor
        else:
            raise ValueError(f"unexpected tensor {tensor_name!r:.80}")
    if optimizer is None and optimizer_tensors:
        raise ValueError("optimizer tensors without optimizer state")
    # Building draws initial weights, which are overwritten at once: keep
    # the caller's random state as it was.
    with torch.random.fork_rng(devices=[]):
        module = estimator._new_module()
    module.load_state_dict(module_state, strict=True)
    estimator.module_ = module.to(map_location).eval()
    estimator._loaded_optimizer_state = (
        None
        if optimizer is None
        else _join_optimizer_state(optimizer, optimizer_tensors, module)
    )
    return estimator


def _join_optimizer_state(data, tensors, module):
    """Inverse of :func:`_split_optimizer_state`, checked against ``module``."""
    shapes = [parameter.shape for parameter in module.parameters()]
    groups = _list(data["param_groups"])
    indices = sorted(i for group in groups for i in _list(group["params"]))
    if indices != list(range(len(shapes))):
        raise ValueError("the optimizer state does not match the model's parameters")
    state = {}
    for index, entries in data["state"].items():
        state[int(index)] = dict(entries)
    for key, tensor in tensors.items():
        index, _, entry = key.partition(".")
        index = int(index)
        if index not in state or not entry:
            raise ValueError(f"unexpected optimizer tensor {key!r:.80}")
        if tensor.ndim and tensor.shape != shapes[index]:
            raise ValueError(
                f"optimizer tensor {key!r} has shape {tuple(tensor.shape)}, but "
                f"parameter {index} has shape {tuple(shapes[index])}"
            )
        state[index][entry] = tensor
    return {"state": state, "param_groups": groups}
