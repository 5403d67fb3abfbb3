"""Atención por producto escalar escalado y atención multi-cabeza en NumPy puro.

Es la «Parte 1» del laboratorio: todo lo que hace una capa de atención, sin
PyTorch, para poder mirar cada matriz intermedia.

Convenciones (las mismas que :func:`torch.nn.functional.scaled_dot_product_attention`):

- ``q`` tiene forma ``(..., n_q, d_k)``, ``k`` ``(..., n_k, d_k)`` y ``v``
  ``(..., n_k, d_v)``; ``...`` son dimensiones de lote (opcionales) que se
  difunden (*broadcast*) entre sí.
- ``mask`` es **booleana** y se difunde a ``(..., n_q, n_k)``: ``True`` significa
  «esta consulta PUEDE atender a esta clave». Ojo: :class:`torch.nn.MultiheadAttention`
  usa la convención contraria (``True`` = prohibido).
- Las proyecciones se aplican como ``x @ W`` (``W`` tiene forma ``(entrada, salida)``).

Ejemplo::

    >>> import numpy as np
    >>> from labcode.numpy_ref.attention import MultiHeadAttentionNumPy, causal_mask
    >>> mha = MultiHeadAttentionNumPy(d_model=8, num_heads=2)
    >>> x = np.random.default_rng(0).normal(size=(5, 8))
    >>> out, w = mha(x, mask=causal_mask(5))
    >>> out.shape, w.shape
    ((5, 8), (2, 5, 5))
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from labcode.utils.checks import mask_length, positive_int
from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "softmax",
    "scaled_dot_product_attention",
    "causal_mask",
    "length_mask",
    "padding_mask",
    "split_heads",
    "merge_heads",
    "xavier_uniform",
    "SelfAttentionNumPy",
    "MultiHeadAttentionNumPy",
]


# ---------------------------------------------------------------------------
# Utilidades de validación (mensajes en español: qué se esperaba y qué llegó)
# ---------------------------------------------------------------------------


def _as_float_array(name: str, x, finite: bool = False) -> np.ndarray:
    """Array de coma flotante; conserva float32/float64 (los enteros pasan a float64).

    Con ``finite=True`` rechaza NaN e infinitos (entradas de la atención; la
    softmax sí admite ``-inf``, que es como se enmascara)."""
    if hasattr(x, "detach"):  # tensor de PyTorch
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:  # listas irregulares, etc.
        raise LabcodeValueError(
            f"{name} debe ser un array numérico; no se pudo convertir: {err}"
        ) from None
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise LabcodeTypeError(
            f"{name} debe contener números reales (float32/float64); se recibió dtype {arr.dtype}."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if finite and arr.size and not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise LabcodeValueError(
            f"{name} contiene NaN o infinitos (el primero en el índice {bad}): la atención los "
            "propagaría a toda la salida. Revisa de dónde salen esos valores."
        )
    return arr


def _check_mask_dtype(mask) -> np.ndarray:
    if hasattr(mask, "detach"):
        mask = mask.detach().cpu().numpy()
    try:
        mask = np.asarray(mask)
    except (TypeError, ValueError):
        raise LabcodeTypeError(
            "la máscara debe ser un array booleano rectangular; no se pudo convertir "
            f"{type(mask).__name__}."
        ) from None
    if mask.dtype != bool:
        raise LabcodeTypeError(
            "la máscara debe ser booleana (True = puede atender, False = bloqueado); "
            f"se recibió dtype {mask.dtype}. Si tienes una máscara aditiva (0 / -inf), "
            "conviértela con `mask == 0`; si es de 0 y 1, con `mask.astype(bool)`."
        )
    return mask


def _broadcast_mask(mask: np.ndarray, target: tuple[int, ...], what: str) -> np.ndarray:
    """Difunde la máscara a ``target`` o lanza ``ValueError`` explicando las formas."""
    try:
        out_shape = np.broadcast_shapes(mask.shape, target)
    except ValueError:
        out_shape = None
    if out_shape != tuple(target):
        raise LabcodeValueError(
            f"la máscara de forma {mask.shape} no se puede difundir (broadcast) a la forma "
            f"de las puntuaciones {tuple(target)} {what}; se esperaba una forma compatible, "
            f"por ejemplo {tuple(target[-2:])}."
        )
    return np.broadcast_to(mask, target)


# ---------------------------------------------------------------------------
# Funciones básicas
# ---------------------------------------------------------------------------


def softmax(x, axis: int = -1) -> np.ndarray:
    """Softmax numéricamente estable a lo largo de ``axis``.

    Resta el máximo de cada fila antes de exponenciar: ``softmax(x) = softmax(x - c)``
    para cualquier constante ``c``, y así ``exp`` nunca recibe un número grande
    (no hay desbordamiento aunque ``x`` valga ``1e4``). Las entradas ``-inf``
    (posiciones enmascaradas) dan exactamente ``0``.

    Parameters
    ----------
    x : array_like
        Valores reales; se conserva el dtype si es float32 o float64.
    axis : int
        Eje sobre el que se normaliza (por defecto, el último).

    Returns
    -------
    numpy.ndarray
        Mismo tamaño que ``x``; cada fila a lo largo de ``axis`` suma 1.

    Raises
    ------
    ValueError
        Si ``x`` contiene NaN o ``+inf``, si el eje está vacío, o si una fila es
        entera ``-inf`` (0/0: la softmax no está definida).
    """
    x = _as_float_array("x", x)
    if x.ndim == 0:
        raise LabcodeValueError("softmax necesita al menos una dimensión; se recibió un escalar.")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise LabcodeTypeError(f"axis debe ser un entero; se recibió {axis!r}.")
    if not -x.ndim <= axis < x.ndim:
        raise LabcodeValueError(
            f"axis={axis} no existe: se esperaba un eje entre {-x.ndim} y {x.ndim - 1} "
            f"para un array de {x.ndim} dimensiones."
        )
    axis = axis % x.ndim
    if x.shape[axis] == 0:
        raise LabcodeValueError(f"softmax sobre un eje vacío: la forma recibida es {x.shape}.")
    if np.isnan(x).any() or np.isposinf(x).any():
        raise LabcodeValueError(
            "softmax: la entrada contiene NaN o +inf; se esperaban valores finitos o -inf."
        )
    m = np.max(x, axis=axis, keepdims=True)
    if np.isneginf(m).any():
        raise LabcodeValueError(
            "softmax: una fila es entera -inf (todas sus posiciones están enmascaradas); "
            "la softmax no está definida (0/0)."
        )
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def scaled_dot_product_attention(q, k, v, mask=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Atención por producto escalar escalado.

    .. math::

        \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d_k}}\right) V

    Parameters
    ----------
    q : array_like
        Consultas (*queries*), forma ``(..., n_q, d_k)``.
    k : array_like
        Claves (*keys*), forma ``(..., n_k, d_k)``.
    v : array_like
        Valores (*values*), forma ``(..., n_k, d_v)``.
    mask : array_like of bool, optional
        Difundible a ``(..., n_q, n_k)``. ``True`` = la consulta puede atender a
        la clave (convención de ``torch.nn.functional.scaled_dot_product_attention``).

    Returns
    -------
    output : numpy.ndarray
        Salida, forma ``(..., n_q, d_v)``.
    weights : numpy.ndarray
        Pesos de atención, forma ``(..., n_q, n_k)``; cada fila suma 1 y las
        claves bloqueadas tienen peso 0 exacto.

    Raises
    ------
    ValueError
        Si las formas no encajan, si la máscara no se puede difundir o si una fila
        de la máscara no permite atender a ninguna clave.
    TypeError
        Si la máscara no es booleana o las entradas no son numéricas.
    """
    q, k, v, batch = _check_qkv(q, k, v)
    dtype = np.result_type(q, k, v)
    d_k = q.shape[-1]
    scores = (q @ np.swapaxes(k, -1, -2)) * dtype.type(1.0 / math.sqrt(d_k))  # (..., n_q, n_k)
    scores = np.broadcast_to(scores, batch + scores.shape[-2:])
    if mask is not None:  # las claves bloqueadas valen -inf: peso exactamente 0
        scores = np.where(_check_attention_mask(mask, scores.shape), scores,
                          dtype.type(-np.inf))
    weights = softmax(scores, axis=-1)  # (..., n_q, n_k)
    output = weights @ v  # (..., n_q, d_v)
    return output.astype(dtype, copy=False), weights.astype(dtype, copy=False)


def _check_qkv(q, k, v) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """``q``, ``k`` y ``v`` como arrays float que encajan, y la forma de lote común."""
    q = _as_float_array("q", q, finite=True)
    k = _as_float_array("k", k, finite=True)
    v = _as_float_array("v", v, finite=True)
    for name, arr, expected in (
        ("q", q, "(..., n_q, d_k)"),
        ("k", k, "(..., n_k, d_k)"),
        ("v", v, "(..., n_k, d_v)"),
    ):
        if arr.ndim < 2:
            raise LabcodeValueError(
                f"{name} debe tener al menos 2 dimensiones {expected}; "
                f"se recibió la forma {arr.shape}."
            )
        if 0 in arr.shape[-2:]:
            raise LabcodeValueError(
                f"{name} tiene un tamaño nulo: se esperaban n y d positivos en {expected}; "
                f"se recibió la forma {arr.shape}."
            )
    if q.shape[-1] != k.shape[-1]:
        raise LabcodeValueError(
            f"q y k deben tener la misma última dimensión d_k: se esperaba k con d_k={q.shape[-1]} "
            f"(como q {q.shape}); se recibió k con forma {k.shape}."
        )
    if k.shape[-2] != v.shape[-2]:
        raise LabcodeValueError(
            f"k y v deben tener el mismo número de claves n_k: se esperaba v con n_k={k.shape[-2]} "
            f"(como k {k.shape}); se recibió v con forma {v.shape}."
        )
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise LabcodeValueError(
            "las dimensiones de lote de q, k y v deben ser compatibles (difundibles); se "
            f"recibieron q {q.shape}, k {k.shape} y v {v.shape}."
        ) from None
    return q, k, v, batch


def _check_attention_mask(mask, shape: tuple[int, ...]) -> np.ndarray:
    """La máscara booleana difundida a ``shape``, con al menos una clave permitida por fila."""
    mask = _broadcast_mask(_check_mask_dtype(mask), shape, "(..., n_q, n_k)")
    allowed_any = mask.any(axis=-1)
    if not allowed_any.all():
        where = tuple(int(i) for i in np.argwhere(~allowed_any)[0])
        raise LabcodeValueError(
            "una fila de la máscara no permite atender a ninguna clave (todas sus posiciones "
            f"son False; la primera es la consulta de índice {where}): la softmax quedaría "
            "indefinida (0/0 → NaN). Se esperaba al menos un True por fila; revisa la "
            "máscara (¿convención invertida?) o deja que cada consulta se vea a sí misma."
        )
    return mask


def causal_mask(n: int) -> np.ndarray:
    """Máscara causal booleana ``(n, n)``: la posición ``i`` ve las posiciones ``j ≤ i``.

    Parameters
    ----------
    n : int
        Longitud de la secuencia (≥ 1).

    Returns
    -------
    numpy.ndarray
        Array booleano ``(n, n)``: triángulo inferior (diagonal incluida) a ``True``.
    """
    n = positive_int("n", n)
    mask_length("n", n)
    return np.tril(np.ones((n, n), dtype=bool))


def length_mask(lengths, n: int | None = None) -> np.ndarray:
    """Máscara de relleno (*padding*) booleana ``(batch, 1, n)`` a partir de las longitudes.

    ``mask[b, 0, j]`` es ``True`` si la posición ``j`` es un token real de la
    secuencia ``b`` (``j < lengths[b]``). La dimensión de tamaño 1 deja que la
    máscara se difunda sobre todas las consultas: sirve tal cual para pesos
    ``(batch, n_q, n_k)``; para varias cabezas ``(batch, h, n_q, n_k)`` usa
    ``length_mask(...)[:, None]`` (forma ``(batch, 1, 1, n)``).

    No confundir con :func:`labcode.nn.masks.padding_mask`, que en PyTorch recibe los ids y el id
    de relleno y devuelve ``(B, 1, 1, T)``: contratos distintos, nombres distintos.

    Parameters
    ----------
    lengths : array_like
        Enteros: longitud real de cada secuencia del lote (≥ 1).
    n : int, optional
        Longitud con relleno; por defecto, la mayor de ``lengths``.

    Raises
    ------
    ValueError
        Si alguna longitud es menor que 1 o mayor que ``n``.
    """
    lengths_arr = np.asarray(lengths)
    if lengths_arr.ndim != 1 or lengths_arr.size == 0 or not np.issubdtype(
        lengths_arr.dtype, np.integer
    ):
        raise LabcodeValueError(
            "lengths debe ser una lista no vacía de enteros (una longitud por secuencia); "
            f"se recibió {lengths!r}."
        )
    n = int(lengths_arr.max()) if n is None else positive_int("n", n)
    if lengths_arr.min() < 1 or lengths_arr.max() > n:
        raise LabcodeValueError(
            f"cada longitud debe estar entre 1 y n={n}; se recibió lengths={lengths_arr.tolist()}."
        )
    return (np.arange(n)[None, :] < lengths_arr[:, None])[:, None, :]


def padding_mask(lengths, n: int | None = None) -> np.ndarray:
    """Nombre antiguo de :func:`length_mask` (obsoleto; se mantiene por compatibilidad)."""
    warnings.warn(
        "labcode.numpy_ref.attention.padding_mask ahora se llama length_mask (recibe longitudes, "
        "no ids); usa length_mask(lengths, n).",
        DeprecationWarning,
        stacklevel=2,
    )
    return length_mask(lengths, n)


def split_heads(x, num_heads: int) -> np.ndarray:
    """Parte la última dimensión en cabezas: ``(..., n, d_model) -> (..., h, n, d_head)``.

    Es sólo un ``reshape`` seguido de un cambio de ejes: la cabeza ``i`` se
    queda con las columnas ``i*d_head : (i+1)*d_head``.

    Raises
    ------
    ValueError
        Si ``x`` tiene menos de 2 dimensiones o ``d_model`` no es divisible por ``num_heads``.
    """
    num_heads = positive_int("num_heads", num_heads)
    x = np.asarray(x)
    if x.ndim < 2:
        raise LabcodeValueError(
            f"split_heads espera un array (..., n, d_model); se recibió la forma {x.shape}."
        )
    *lead, n, d_model = x.shape
    if d_model % num_heads:
        raise LabcodeValueError(
            f"d_model={d_model} no es divisible por num_heads={num_heads}: se esperaba "
            f"d_model % num_heads == 0; se recibió resto {d_model % num_heads}."
        )
    x = x.reshape(*lead, n, num_heads, d_model // num_heads)  # (..., n, h, d_head)
    return np.swapaxes(x, -3, -2)  # (..., h, n, d_head)


def merge_heads(x) -> np.ndarray:
    """Inversa de :func:`split_heads`: ``(..., h, n, d_head) -> (..., n, h * d_head)``."""
    x = np.asarray(x)
    if x.ndim < 3:
        raise LabcodeValueError(
            f"merge_heads espera un array (..., h, n, d_head); se recibió la forma {x.shape}."
        )
    *lead, h, n, d_head = x.shape
    x = np.swapaxes(x, -3, -2)  # (..., n, h, d_head)
    return x.reshape(*lead, n, h * d_head)


def xavier_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Inicialización de Glorot/Xavier uniforme.

    Muestrea ``U(-a, a)`` con ``a = sqrt(6 / (fan_in + fan_out))`` y forma ``(fan_in, fan_out)``.
    """
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def _check_mha_inputs(query, key, value, d_model: int) -> tuple[np.ndarray, ...]:
    """``query``, ``key`` y ``value`` comprobados: mismas dimensiones, lote y ``n_k``."""
    query = _check_input("query", query, d_model)
    key = _check_input("key", key, d_model)
    value = _check_input("value", value, d_model)
    if not (query.ndim == key.ndim == value.ndim):
        raise LabcodeValueError(
            "query, key y value deben tener el mismo número de dimensiones (todas con lote "
            f"o todas sin lote); se recibieron las formas {query.shape}, {key.shape} "
            f"y {value.shape}."
        )
    if query.ndim == 3 and not (query.shape[0] == key.shape[0] == value.shape[0]):
        raise LabcodeValueError(
            "query, key y value deben tener el mismo tamaño de lote; se recibieron las "
            f"formas {query.shape}, {key.shape} y {value.shape}."
        )
    if key.shape[-2] != value.shape[-2]:
        raise LabcodeValueError(
            f"key y value deben tener el mismo número de posiciones n_k: se esperaba value "
            f"con n_k={key.shape[-2]}; se recibió la forma {value.shape}."
        )
    return query, key, value


def _check_input(name: str, x, d_model: int) -> np.ndarray:
    x = _as_float_array(name, x, finite=True)
    if x.ndim not in (2, 3):
        raise LabcodeValueError(
            f"{name} debe tener forma (n, d_model) o (batch, n, d_model); "
            f"se recibió un array de {x.ndim} dimensiones con forma {x.shape}."
        )
    if x.shape[-1] != d_model:
        raise LabcodeValueError(
            f"la última dimensión de {name} debe ser d_model={d_model}; "
            f"se recibió la forma {x.shape}."
        )
    if x.shape[-2] == 0:
        raise LabcodeValueError(
            f"{name} no tiene posiciones (n = 0); se recibió la forma {x.shape}."
        )
    return x


# ---------------------------------------------------------------------------
# Capas
# ---------------------------------------------------------------------------


class SelfAttentionNumPy:
    """Autoatención de una sola cabeza: proyecciones ``W_q``, ``W_k``, ``W_v`` y atención.

    Parameters
    ----------
    d_model : int
        Dimensión de los vectores de entrada.
    d_k : int, optional
        Dimensión de consultas y claves (por defecto ``d_model``).
    d_v : int, optional
        Dimensión de los valores y de la salida (por defecto ``d_k``).
    seed : int
        Semilla de ``np.random.default_rng`` para la inicialización de Xavier.

    Attributes
    ----------
    W_q, W_k : numpy.ndarray
        Proyecciones de consultas y claves, forma ``(d_model, d_k)``.
    W_v : numpy.ndarray
        Proyección de valores, forma ``(d_model, d_v)``. Todas se aplican como
        ``x @ W``, sin sesgos (*biases*).
    """

    def __init__(self, d_model: int, d_k: int | None = None, d_v: int | None = None, seed: int = 0):
        self.d_model = positive_int("d_model", d_model)
        self.d_k = self.d_model if d_k is None else positive_int("d_k", d_k)
        self.d_v = self.d_k if d_v is None else positive_int("d_v", d_v)
        rng = np.random.default_rng(_check_seed(seed))
        self.W_q = xavier_uniform(rng, self.d_model, self.d_k)
        self.W_k = xavier_uniform(rng, self.d_model, self.d_k)
        self.W_v = xavier_uniform(rng, self.d_model, self.d_v)

    @property
    def num_parameters(self) -> int:
        """Número de parámetros entrenables."""
        return self.W_q.size + self.W_k.size + self.W_v.size

    def forward(self, x, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """Aplica la autoatención.

        Parameters
        ----------
        x : array_like
            Entrada de forma ``(n, d_model)`` o ``(batch, n, d_model)``.
        mask : array_like of bool, optional
            Difundible a ``(n, n)`` o ``(batch, n, n)``; ``True`` = puede atender.

        Returns
        -------
        output : numpy.ndarray
            Forma ``(n, d_v)`` o ``(batch, n, d_v)``.
        weights : numpy.ndarray
            Forma ``(n, n)`` o ``(batch, n, n)``.
        """
        x = _check_input("x", x, self.d_model)
        dt = x.dtype
        q = x @ self.W_q.astype(dt, copy=False)  # (B, n, d_k)
        k = x @ self.W_k.astype(dt, copy=False)  # (B, n, d_k)
        v = x @ self.W_v.astype(dt, copy=False)  # (B, n, d_v)
        return scaled_dot_product_attention(q, k, v, mask=mask)

    __call__ = forward

    def __repr__(self) -> str:
        return f"SelfAttentionNumPy(d_model={self.d_model}, d_k={self.d_k}, d_v={self.d_v})"


class MultiHeadAttentionNumPy:
    """Atención multi-cabeza (*multi-head attention*) sin sesgos, en NumPy.

    ``MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_O`` con
    ``head_i = Attention(Q W_Q^i, K W_K^i, V W_V^i)``; ``W_Q^i`` son las columnas
    ``i*d_head : (i+1)*d_head`` de ``W_q`` (ídem ``W_k``, ``W_v``).

    Parameters
    ----------
    d_model : int
        Dimensión del modelo; debe ser divisible por ``num_heads``.
    num_heads : int
        Número de cabezas ``h``; cada una trabaja con ``d_head = d_model // h``.
    seed : int
        Semilla para la inicialización de Xavier.

    Attributes
    ----------
    W_q, W_k, W_v, W_o : numpy.ndarray
        Matrices ``(d_model, d_model)``. Se aplican como ``x @ W``. Para copiarlas
        en ``torch.nn.MultiheadAttention`` hay que trasponerlas (PyTorch guarda
        ``(salida, entrada)``).

    Raises
    ------
    ValueError
        Si ``d_model`` no es divisible por ``num_heads`` o algún tamaño no es positivo.
    """

    def __init__(self, d_model: int, num_heads: int, seed: int = 0):
        self.d_model = positive_int("d_model", d_model)
        self.num_heads = positive_int("num_heads", num_heads)
        if self.d_model % self.num_heads:
            raise LabcodeValueError(
                f"d_model={self.d_model} no es divisible por num_heads={self.num_heads}: se "
                "esperaba d_model % num_heads == 0 (cada cabeza recibe d_model // num_heads "
                f"dimensiones); se recibió resto {self.d_model % self.num_heads}."
            )
        self.d_head = self.d_model // self.num_heads
        rng = np.random.default_rng(_check_seed(seed))
        self.W_q = xavier_uniform(rng, self.d_model, self.d_model)
        self.W_k = xavier_uniform(rng, self.d_model, self.d_model)
        self.W_v = xavier_uniform(rng, self.d_model, self.d_model)
        self.W_o = xavier_uniform(rng, self.d_model, self.d_model)

    @property
    def num_parameters(self) -> int:
        """Número de parámetros entrenables (``4 · d_model²``, sea cual sea ``num_heads``)."""
        return self.W_q.size + self.W_k.size + self.W_v.size + self.W_o.size

    def to_torch(self, dtype=None):
        """Una ``torch.nn.MultiheadAttention`` equivalente, con los mismos pesos.

        PyTorch guarda los pesos como ``(salida, entrada)`` y calcula ``W x``;
        aquí se usa ``x @ W``. Por eso se trasponen, y ``in_proj_weight`` apila
        ``[W_qᵀ; W_kᵀ; W_vᵀ]``. La capa no tiene sesgos, usa ``batch_first=True``
        y queda en modo ``eval()``. Importa PyTorch sólo al llamarse.

        Parameters
        ----------
        dtype : torch.dtype, opcional
            Tipo de los pesos (por defecto ``torch.float64``, como NumPy).
        """
        import torch

        dtype = torch.float64 if dtype is None else dtype
        ref = torch.nn.MultiheadAttention(self.d_model, self.num_heads, bias=False,
                                          batch_first=True, dtype=dtype)
        w_in = np.concatenate([self.W_q.T, self.W_k.T, self.W_v.T], axis=0)  # (3C, C)
        with torch.no_grad():
            ref.in_proj_weight.copy_(torch.from_numpy(w_in))
            ref.out_proj.weight.copy_(torch.from_numpy(np.ascontiguousarray(self.W_o.T)))
        return ref.eval()

    def split_heads(self, x) -> np.ndarray:
        """``(..., n, d_model) -> (..., h, n, d_head)`` (ver :func:`split_heads`)."""
        return split_heads(x, self.num_heads)

    @staticmethod
    def merge_heads(x) -> np.ndarray:
        """``(..., h, n, d_head) -> (..., n, d_model)`` (ver :func:`merge_heads`)."""
        return merge_heads(x)

    def forward(self, query, key=None, value=None, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """Aplica la atención multi-cabeza.

        Parameters
        ----------
        query : array_like
            Consultas, forma ``(n_q, d_model)`` o ``(batch, n_q, d_model)``.
        key : array_like, optional
            Claves, forma ``(n_k, d_model)`` o ``(batch, n_k, d_model)``. Por
            defecto ``query`` (autoatención). Si se da, es atención cruzada
            (*cross-attention*).
        value : array_like, optional
            Misma forma que ``key``; por defecto ``key``.
        mask : array_like of bool, optional
            Difundible a ``(batch, num_heads, n_q, n_k)`` (o ``(num_heads, n_q, n_k)``
            sin lote): sirven ``(n_q, n_k)``, ``(batch, 1, n_q, n_k)``,
            ``(batch, 1, 1, n_k)``... ``True`` = puede atender.

        Returns
        -------
        output : numpy.ndarray
            Forma ``(batch, n_q, d_model)`` o ``(n_q, d_model)``.
        weights : numpy.ndarray
            Forma ``(batch, num_heads, n_q, n_k)`` o ``(num_heads, n_q, n_k)``.

        Raises
        ------
        ValueError
            Formas incompatibles o máscara no difundible (el mensaje dice qué se
            esperaba y qué se recibió).
        TypeError
            Máscara no booleana.
        """
        key = query if key is None else key
        value = key if value is None else value
        query, key, value = _check_mha_inputs(query, key, value, self.d_model)
        dt = np.result_type(query, key, value)
        if mask is not None:
            lead, n_q, n_k = query.shape[:-2], query.shape[-2], key.shape[-2]
            names = "(batch, num_heads, n_q, n_k)" if lead else "(num_heads, n_q, n_k)"
            mask = _broadcast_mask(_check_mask_dtype(mask), lead + (self.num_heads, n_q, n_k),
                                   names)
        q = self.split_heads(query @ self.W_q.astype(dt, copy=False))  # (B, h, n_q, d_head)
        k = self.split_heads(key @ self.W_k.astype(dt, copy=False))  # (B, h, n_k, d_head)
        v = self.split_heads(value @ self.W_v.astype(dt, copy=False))  # (B, h, n_k, d_head)
        heads, weights = scaled_dot_product_attention(q, k, v, mask=mask)  # (B, h, n_q, d_head)
        concat = self.merge_heads(heads)  # (B, n_q, d_model)
        output = concat @ self.W_o.astype(dt, copy=False)  # (B, n_q, d_model)
        return output, weights

    __call__ = forward

    def __repr__(self) -> str:
        return (
            f"MultiHeadAttentionNumPy(d_model={self.d_model}, num_heads={self.num_heads}, "
            f"d_head={self.d_head})"
        )
