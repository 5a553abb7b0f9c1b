"""The JSON encoding of saved state, which keeps Python and numpy types exactly.

:func:`encode` turns hyperparameters and fitted attributes into JSON data and
:func:`decode` turns it back: tuples, dicts with non-str keys, numpy arrays
and scalars (dtype and shape kept; numbers as their raw bytes, so floats are
bit-exact), skorch ``History``, non-finite floats, and text that UTF-8
cannot store (lone surrogates, as their code points) are written as objects
tagged with ``"__type__"``; everything else is plain JSON. :func:`decode`
reads data only, and charges every numpy array to a byte budget before
allocating it, so a file cannot make it allocate more than it allows.
"""

import base64
import json
import math
import re
from functools import partial

import numpy as np
from skorch.history import History

__all__ = ["decode", "dumps", "encode", "json_list"]

_TAG = "__type__"
# numpy dtype kinds stored as raw bytes: bool, integers, floats, complex,
# bytes, datetimes and timedeltas. Text ("U") is stored as a list of str,
# object arrays element by element.
_RAW_KINDS = frozenset("biufcSMm")
_SURROGATE = re.compile("[\ud800-\udfff]")


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
        codes = json_list(data["codes"])
        if not all(type(c) is int and 0 <= c <= 0x10FFFF for c in codes):
            raise ValueError("invalid code points in an encoded str")
        return "".join(map(chr, codes))
    if tag == "float":
        value = data["value"]
        if value not in ("nan", "inf", "-inf"):
            raise ValueError(f"unexpected float {value!r:.80}")
        return float(value)
    if tag == "tuple":
        return tuple(decode_(json_list(data["items"])))
    if tag == "dict":
        return {decode_(k): decode_(v) for k, v in map(_pair, json_list(data["items"]))}
    if tag == "history":
        return History(decode_(json_list(data["items"])))
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
    shape = tuple(json_list(data["shape"]))
    if not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"invalid array shape {shape!r:.80}")
    size = math.prod(shape)
    _charge(budget, size * dtype.itemsize, dtype, shape)
    if "bytes" in data and dtype.kind in _RAW_KINDS and not dtype.hasobject:
        raw = base64.b64decode(data["bytes"], validate=True)
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "str" in data and dtype.kind == "U":
        items = [decode(item, budget) for item in json_list(data["str"])]
        if not all(type(item) is str for item in items) or len(items) != size:
            raise ValueError("a text array must hold one str per element")
        return np.array(items, dtype=dtype).reshape(shape)
    if "items" in data and dtype.kind == "O":
        items = [decode(item, budget) for item in json_list(data["items"])]
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


def json_list(value):
    """``value`` if it is a JSON list; else ValueError."""
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON list, got {value!r:.80}")
    return value


def _pair(value):
    if len(json_list(value)) != 2:
        raise ValueError(f"expected a [key, value] pair, got {value!r:.80}")
    return value


def dumps(data):
    """Compact JSON text of encoded ``data``."""
    return json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
