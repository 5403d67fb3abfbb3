"""Codificación posicional (*positional encoding*) sinusoidal en NumPy: la tabla y sus propiedades.

La atención por sí sola no sabe en qué orden llegan los *tokens*: si se
permutan las filas de la entrada, las filas de la salida se permutan igual
(equivariancia a permutaciones). Para que el modelo distinga «el perro muerde
al hombre» de «el hombre muerde al perro» se suma a cada *embedding* un vector
que depende sólo de su posición.

Contenido del módulo:

- :func:`sinusoidal_table`: la tabla de Vaswani et al. (2017),

  .. math::

     PE_{(pos, 2i)} = \\sin\\!\\left(\\frac{pos}{10000^{2i/d}}\\right),\\qquad
     PE_{(pos, 2i+1)} = \\cos\\!\\left(\\frac{pos}{10000^{2i/d}}\\right).

- :class:`PositionalEncodingSinusoidal`: versión NumPy (la del capítulo);
  ``pe(x)`` devuelve ``x + pe.pe[:n]``.
- :func:`relative_shift_matrix` y :func:`dot_product_by_offset`: las dos
  propiedades que justifican la elección de senos y cosenos (un desplazamiento
  es una rotación fija; el producto escalar sólo depende de la distancia).
- Los módulos de PyTorch (``batch_first``) que usan los capítulos posteriores
  están en :mod:`labcode.nn.positional`.

Convenciones: las posiciones empiezan en 0; las columnas pares llevan senos y
las impares cosenos. Con ``d_model`` impar la última columna es un seno sin
coseno compañero (la fórmula sigue estando bien definida); las funciones que
necesitan las parejas seno/coseno completas (:func:`relative_shift_matrix`)
exigen ``d_model`` par y lo dicen con un ``ValueError``.
"""

from __future__ import annotations

import numbers

import numpy as np

from labcode.utils.checks import nonnegative_int, positive_int
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "check_sequence_shape",
    "sinusoidal_table",
    "frequencies",
    "PositionalEncodingSinusoidal",
    "relative_shift_matrix",
    "dot_product_by_offset",
]


# ---------------------------------------------------------------------------
# Validación
# ---------------------------------------------------------------------------


def _check_base(base) -> float:
    if isinstance(base, bool) or not isinstance(base, numbers.Real):
        raise LabcodeTypeError(f"base debe ser un número real > 1; se recibió {base!r}.")
    if not np.isfinite(base) or base <= 1:
        raise LabcodeValueError(f"base debe ser un número real finito > 1; se recibió {base}.")
    return float(base)


def check_sequence_shape(shape: tuple[int, ...], d_model: int, max_len: int, start: int = 0):
    """Comprueba ``(n, d_model)`` o ``(batch, n, d_model)`` y que quepa en la tabla."""
    if len(shape) not in (2, 3):
        raise LabcodeValueError(
            "se esperaba una entrada 2D (n, d_model) o 3D (batch, n, d_model); "
            f"se recibió un array de {len(shape)} dimensiones con forma {tuple(shape)}."
        )
    if shape[-1] != d_model:
        raise LabcodeValueError(
            f"la última dimensión de la entrada debe ser d_model={d_model}; "
            f"se recibió la forma {tuple(shape)} (última dimensión {shape[-1]})."
        )
    n = shape[-2]
    if start + n > max_len:
        where = f"desde la posición {start} " if start else ""
        raise LabcodeValueError(
            f"la secuencia tiene {n} posiciones {where}y la tabla sólo llega a "
            f"max_len={max_len}; se esperaba start + n <= {max_len}, se recibió "
            f"start + n = {start + n}. Crea la codificación con un max_len mayor."
        )
    return n


# ---------------------------------------------------------------------------
# NumPy
# ---------------------------------------------------------------------------


def frequencies(d_model: int, base: float = 10000.0) -> np.ndarray:
    """Frecuencias angulares ``w_i = 1 / base^(2i/d_model)``, una por pareja seno/coseno.

    Parameters
    ----------
    d_model:
        Dimensión del modelo.
    base:
        Base de la progresión geométrica de longitudes de onda (10000 en el
        artículo original).

    Returns
    -------
    np.ndarray
        Vector de ``ceil(d_model / 2)`` frecuencias, de 1 (columna 0) hacia
        ``1/base`` (decrecientes).
    """
    d_model = positive_int("d_model", d_model)
    base = _check_base(base)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)  # 0, 2, 4, ...
    return base ** (-two_i / d_model)


def sinusoidal_table(max_len: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """Tabla sinusoidal completa ``(max_len, d_model)`` en ``float64``.

    Parameters
    ----------
    max_len:
        Número de posiciones (filas): 0, 1, ..., ``max_len - 1``.
    d_model:
        Dimensión del modelo (columnas). Puede ser impar: la última columna es
        entonces un seno sin coseno compañero.
    base:
        Base de las longitudes de onda (10000 por defecto).

    Returns
    -------
    np.ndarray
        ``pe[pos, 2i] = sin(pos * w_i)`` y ``pe[pos, 2i+1] = cos(pos * w_i)`` con
        ``w_i = base^(-2i/d_model)``.

    Raises
    ------
    ValueError, TypeError
        Si ``max_len`` o ``d_model`` no son enteros positivos o ``base <= 1``.
    """
    max_len = positive_int("max_len", max_len)
    d_model = positive_int("d_model", d_model)
    w = frequencies(d_model, base)  # (ceil(d/2),)
    pos = np.arange(max_len, dtype=np.float64)[:, None]  # (max_len, 1)
    angles = pos * w[None, :]  # (max_len, ceil(d/2))
    pe = np.empty((max_len, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return pe


class PositionalEncodingSinusoidal:
    """Codificación posicional sinusoidal en NumPy.

    Parameters
    ----------
    d_model:
        Dimensión de los *embeddings*.
    max_len:
        Longitud máxima de secuencia que se podrá codificar.
    base:
        Base de las longitudes de onda (10000 por defecto).

    Attributes
    ----------
    pe:
        La tabla ``(max_len, d_model)`` (ver :func:`sinusoidal_table`).

    Examples
    --------
    >>> pos_enc = PositionalEncodingSinusoidal(d_model=8, max_len=50)
    >>> x = np.zeros((10, 8))
    >>> np.allclose(pos_enc(x), pos_enc.pe[:10])
    True
    """

    def __init__(self, d_model: int, max_len: int = 5000, base: float = 10000.0):
        self.d_model = positive_int("d_model", d_model)
        self.max_len = positive_int("max_len", max_len)
        self.base = _check_base(base)
        self.pe = sinusoidal_table(self.max_len, self.d_model, self.base)

    def encoding(self, n: int, start: int = 0) -> np.ndarray:
        """Filas ``start, ..., start + n - 1`` de la tabla: forma ``(n, d_model)``."""
        n = positive_int("n", n)
        start = nonnegative_int("start", start)
        check_sequence_shape((n, self.d_model), self.d_model, self.max_len, start)
        return self.pe[start : start + n]

    def __call__(self, x, start: int = 0) -> np.ndarray:
        """Suma la codificación a ``x``.

        Parameters
        ----------
        x:
            Array ``(n, d_model)`` o ``(batch, n, d_model)``.
        start:
            Posición de la primera fila (0 por defecto).

        Returns
        -------
        np.ndarray
            ``x + pe[start:start + n]``, con la forma de ``x``.

        Raises
        ------
        ValueError
            Si ``x`` no es 2D/3D, si su última dimensión no es ``d_model`` o si
            la secuencia no cabe en ``max_len``.
        TypeError
            Si ``x`` no es numérico.
        """
        if hasattr(x, "detach"):
            raise LabcodeTypeError(
                "PositionalEncodingSinusoidal trabaja con arrays de NumPy; se recibió un "
                "tensor de PyTorch. Usa SinusoidalPositionalEncoding (nn.Module) en su lugar."
            )
        arr = np.asarray(x)
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise LabcodeTypeError(
                f"se esperaba un array numérico real; se recibió dtype {arr.dtype}."
            )
        start = nonnegative_int("start", start)
        n = check_sequence_shape(arr.shape, self.d_model, self.max_len, start)
        return arr + self.pe[start : start + n]  # (…, n, d_model)

    def __repr__(self) -> str:
        return (
            f"PositionalEncodingSinusoidal(d_model={self.d_model}, max_len={self.max_len}, "
            f"base={self.base:g})"
        )


def relative_shift_matrix(d_model: int, k: int | float, base: float = 10000.0) -> np.ndarray:
    """Matriz fija ``M_k`` tal que ``PE(pos + k) = PE(pos) @ M_k`` para toda posición.

    Convención de vectores fila (como ``x @ W`` en el resto del libro). ``M_k``
    es diagonal por bloques; el bloque de la pareja ``(2i, 2i+1)`` es la
    rotación

    .. math::

       \\begin{pmatrix} \\cos(w_i k) & -\\sin(w_i k) \\\\
                        \\sin(w_i k) & \\phantom{-}\\cos(w_i k) \\end{pmatrix},

    consecuencia de ``sin(a + b) = sin a cos b + cos a sin b`` y
    ``cos(a + b) = cos a cos b - sin a sin b``. No depende de ``pos``: un
    desplazamiento relativo es una transformación lineal (ortogonal) fija.

    Parameters
    ----------
    d_model:
        Dimensión del modelo; debe ser **par** (cada seno necesita su coseno).
    k:
        Desplazamiento (puede ser negativo o no entero).
    base:
        La misma base que la tabla.

    Returns
    -------
    np.ndarray
        Matriz ortogonal ``(d_model, d_model)``; para obtener la convención de
        vectores columna (``PE(pos + k) = M @ PE(pos)``) basta con transponerla.

    Raises
    ------
    ValueError
        Si ``d_model`` es impar o no positivo.
    """
    d_model = positive_int("d_model", d_model)
    if d_model % 2:
        raise LabcodeValueError(
            "relative_shift_matrix necesita d_model par (cada seno con su coseno); "
            f"se recibió d_model={d_model}. Con d_model impar la última columna "
            "sin(pos·w) no puede escribirse como función lineal de PE(pos)."
        )
    if isinstance(k, bool) or not isinstance(k, numbers.Real) or not np.isfinite(k):
        raise LabcodeTypeError(f"k debe ser un número real finito; se recibió {k!r}.")
    w = frequencies(d_model, base)
    c, s = np.cos(w * k), np.sin(w * k)
    m = np.zeros((d_model, d_model), dtype=np.float64)
    even, odd = np.arange(0, d_model, 2), np.arange(1, d_model, 2)
    m[even, even] = c  # sin -> sin
    m[odd, even] = s  # cos -> sin
    m[even, odd] = -s  # sin -> cos
    m[odd, odd] = c  # cos -> cos
    return m


def dot_product_by_offset(d_model: int, offsets, base: float = 10000.0) -> np.ndarray:
    """Valor teórico de ``PE(p) · PE(p + k)`` en función del desplazamiento ``k``.

    Para ``d_model`` par, ``PE(p)·PE(q) = Σ_i cos(w_i (p - q))``: sólo depende
    de ``p - q`` (y es simétrico en el signo). Con ``d_model`` impar aparece un
    término ``sin(w p) sin(w q)`` que sí depende de la posición absoluta, así
    que la función exige ``d_model`` par.

    Parameters
    ----------
    d_model:
        Dimensión del modelo (par).
    offsets:
        Desplazamientos ``k`` (escalar o array).

    Returns
    -------
    np.ndarray
        ``Σ_i cos(w_i k)`` con la forma de ``offsets``; vale ``d_model / 2`` en ``k = 0``.
    """
    d_model = positive_int("d_model", d_model)
    if d_model % 2:
        raise LabcodeValueError(
            f"dot_product_by_offset necesita d_model par; se recibió d_model={d_model}."
        )
    k = np.asarray(offsets, dtype=np.float64)
    w = frequencies(d_model, base)
    return np.cos(k[..., None] * w).sum(axis=-1)
