"""A reader for dlib's serialisation format, enough to load the weights of dlib's face ResNet.

dlib writes a network from the outside in: the loss layer, then one version number per layer
wrapper down to the input layer, then each layer's parameters in forward order (a wrapper
serialises its inner network before its own layer). Primitive encodings:

- integer: one control byte (low nibble = number of magnitude bytes, bit 0x80 = negative),
  then the magnitude little-endian;
- float scalar: an integer mantissa m and an integer exponent e, value m * 2**e;
- bool: one ASCII byte, '0' or '1';
- string: an integer length, then the bytes;
- tensor: version 2, then n, k, nr, nc, then n*k*nr*nc raw little-endian float32;
- alias_tensor (a view into a layer's parameter tensor): version 1, then n, k, nr, nc.

Only the layer kinds that the face ResNet uses are understood; anything else is a
`ModelFormatError` rather than a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepsake.ml.base import ModelFormatError

F32Array = npt.NDArray[np.float32]

# dlib's float encoding reserves these exponents for values a mantissa cannot express.
_EXPONENT_INF = 32000
_EXPONENT_NEG_INF = 32001
_EXPONENT_NAN = 32002

_TENSOR_VERSION = 2
_ALIAS_TENSOR_VERSION = 1
# The add_layer that sits directly on the input layer has its own version and one extra field.
_INPUT_WRAPPER_VERSION = 3
_WRAPPER_VERSIONS = frozenset({1, 2})


@dataclass(frozen=True, slots=True)
class InputRgb:
    means: tuple[float, float, float]
    rows: int
    cols: int


@dataclass(frozen=True, slots=True)
class Conv:
    weights: F32Array  # (out_channels, in_channels, kernel_rows, kernel_cols)
    bias: F32Array  # (out_channels,)
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Affine:
    """Frozen batch normalisation: y = x * gamma[c] + beta[c]."""

    gamma: F32Array
    beta: F32Array


@dataclass(frozen=True, slots=True)
class Relu:
    pass


@dataclass(frozen=True, slots=True)
class Pool:
    kind: str  # "max" or "avg"
    size: tuple[int, int]  # (0, 0) means the whole feature map
    stride: tuple[int, int]
    padding: tuple[int, int]

    @property
    def is_global(self) -> bool:
        return self.size == (0, 0)


@dataclass(frozen=True, slots=True)
class AddPrev:
    pass


@dataclass(frozen=True, slots=True)
class FullyConnected:
    weights: F32Array  # (inputs, outputs): y = x @ weights
    bias: F32Array | None


Layer = Conv | Affine | Relu | Pool | AddPrev | FullyConnected


@dataclass(frozen=True, slots=True)
class MetricNetwork:
    """A dlib network with a `loss_metric` on top, as stored in a .dat file."""

    input: InputRgb
    layers: tuple[Layer, ...]
    loss_margin: float
    distance_threshold: float


class DlibReader:
    """Sequential reader over the bytes of a dlib-serialised object."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def position(self) -> int:
        return self._pos

    @property
    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def _take(self, count: int) -> bytes:
        end = self._pos + count
        if count < 0 or end > len(self._data):
            raise ModelFormatError(f"unexpected end of data at byte {self._pos}")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def read_int(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if size > 8:
            raise ModelFormatError(f"bad integer control byte {control:#x} at {self._pos - 1}")
        magnitude = int.from_bytes(self._take(size), "little")
        return -magnitude if control & 0x80 else magnitude

    def read_float(self) -> float:
        mantissa = self.read_int()
        exponent = self.read_int()
        if exponent == _EXPONENT_INF:
            return math.inf
        if exponent == _EXPONENT_NEG_INF:
            return -math.inf
        if exponent == _EXPONENT_NAN:
            return math.nan
        return math.ldexp(mantissa, exponent)

    def read_bool(self) -> bool:
        value = self._take(1)
        if value not in (b"0", b"1"):
            raise ModelFormatError(f"bad bool byte {value!r} at {self._pos - 1}")
        return value == b"1"

    def read_str(self) -> str:
        length = self.read_int()
        if length < 0 or length > 1024:
            raise ModelFormatError(f"implausible string length {length} at {self._pos}")
        try:
            return self._take(length).decode("ascii")
        except UnicodeDecodeError as exc:
            raise ModelFormatError(f"non-ASCII string at {self._pos - length}") from exc

    def read_tensor(self) -> F32Array:
        version = self.read_int()
        if version != _TENSOR_VERSION:
            raise ModelFormatError(f"unsupported tensor version {version} at {self._pos}")
        shape = tuple(self.read_int() for _ in range(4))
        if any(dim < 0 for dim in shape):
            raise ModelFormatError(f"negative tensor shape {shape}")
        count = shape[0] * shape[1] * shape[2] * shape[3]
        values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        return values.reshape(shape)

    def read_alias_tensor(self) -> tuple[int, int, int, int]:
        version = self.read_int()
        if version != _ALIAS_TENSOR_VERSION:
            raise ModelFormatError(f"unsupported alias_tensor version {version}")
        n, k, nr, nc = (self.read_int() for _ in range(4))
        return n, k, nr, nc


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ModelFormatError(message)


def _read_conv(reader: DlibReader) -> Conv:
    params = reader.read_tensor().reshape(-1)
    filters, rows, cols = reader.read_int(), reader.read_int(), reader.read_int()
    stride = (reader.read_int(), reader.read_int())
    padding = (reader.read_int(), reader.read_int())
    n, k, nr, nc = reader.read_alias_tensor()  # the filters' view into params
    bias_shape = reader.read_alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers: training only
        reader.read_float()
    _expect((n, nr, nc) == (filters, rows, cols), f"con_ filter shape {n, k, nr, nc} mismatch")
    weight_count = n * k * nr * nc
    _expect(bias_shape == (1, filters, 1, 1), f"con_ bias shape {bias_shape}")
    _expect(params.size == weight_count + filters, "con_ parameter count mismatch")
    weights = params[:weight_count].reshape(n, k, nr, nc)
    return Conv(weights=weights, bias=params[weight_count:], stride=stride, padding=padding)


def _read_affine(reader: DlibReader) -> Affine:
    params = reader.read_tensor().reshape(-1)
    gamma_shape = reader.read_alias_tensor()
    beta_shape = reader.read_alias_tensor()
    mode = reader.read_int()
    _expect(mode == 0, f"affine_ in mode {mode}; only the convolutional mode (0) is supported")
    _expect(gamma_shape == beta_shape, "affine_ gamma and beta differ in shape")
    channels = gamma_shape[1]
    _expect(params.size == 2 * channels, "affine_ parameter count mismatch")
    return Affine(gamma=params[:channels], beta=params[channels:])


def _read_pool(reader: DlibReader, kind: str) -> Pool:
    rows, cols = reader.read_int(), reader.read_int()
    stride = (reader.read_int(), reader.read_int())
    padding = (reader.read_int(), reader.read_int())
    return Pool(kind=kind, size=(rows, cols), stride=stride, padding=padding)


def _read_fc(reader: DlibReader) -> FullyConnected:
    outputs, inputs = reader.read_int(), reader.read_int()
    params = reader.read_tensor().reshape(-1)
    weights_shape = reader.read_alias_tensor()
    bias_shape = reader.read_alias_tensor()
    bias_mode = reader.read_int()  # 0: with bias, 1: without
    for _ in range(4):
        reader.read_float()
    _expect(weights_shape[:2] == (inputs, outputs), f"fc_ weights shape {weights_shape}")
    weights = params[: inputs * outputs].reshape(inputs, outputs)
    if bias_mode == 1:
        _expect(params.size == inputs * outputs, "fc_ parameter count mismatch")
        return FullyConnected(weights=weights, bias=None)
    _expect(bias_shape[1] == outputs, f"fc_ bias shape {bias_shape}")
    return FullyConnected(weights=weights, bias=params[inputs * outputs :])


def _read_layer(reader: DlibReader, name: str) -> Layer:
    match name:
        case "con_4":
            return _read_conv(reader)
        case "affine_":
            return _read_affine(reader)
        case "relu_":
            return Relu()
        case "max_pool_2":
            return _read_pool(reader, "max")
        case "avg_pool_2":
            return _read_pool(reader, "avg")
        case "add_prev_":
            return AddPrev()
        case "fc_2":
            return _read_fc(reader)
    raise ModelFormatError(f"unsupported dlib layer {name!r}")


def _skip_wrapper_state(reader: DlibReader) -> None:
    # Each add_layer stores three flags and three tensors (input gradient, cached output,
    # parameter gradient) after its layer; they are empty in a cleaned model and unused here.
    for _ in range(3):
        reader.read_bool()
    for _ in range(3):
        reader.read_tensor()


def read_metric_network(data: bytes) -> MetricNetwork:
    """Parse a dlib `loss_metric` network (such as dlib_face_recognition_resnet_model_v1)."""
    reader = DlibReader(data)
    _expect(reader.read_int() == 1, "not a dlib loss layer (version)")
    loss_name = reader.read_str()
    _expect(loss_name == "loss_metric_2", f"expected a loss_metric_2 network, got {loss_name!r}")
    margin = reader.read_float()
    distance_threshold = reader.read_float()

    wrappers = 0
    while True:
        version = reader.read_int()
        if version == _INPUT_WRAPPER_VERSION:
            break
        _expect(version in _WRAPPER_VERSIONS, f"unexpected layer wrapper version {version}")
        wrappers += 1
    _expect(wrappers > 0, "network without layers")

    input_name = reader.read_str()
    _expect(input_name == "input_rgb_image_sized", f"unsupported input layer {input_name!r}")
    means = (reader.read_float(), reader.read_float(), reader.read_float())
    rows, cols = reader.read_int(), reader.read_int()

    layers: list[Layer] = []
    first = True
    while not reader.at_end:
        layers.append(_read_layer(reader, reader.read_str()))
        _skip_wrapper_state(reader)
        if first:
            reader.read_int()  # the input wrapper's sample expansion factor
            first = False
    return MetricNetwork(
        input=InputRgb(means=means, rows=rows, cols=cols),
        layers=tuple(layers),
        loss_margin=margin,
        distance_threshold=distance_threshold,
    )
