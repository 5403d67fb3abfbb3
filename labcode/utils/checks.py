"""Validaciones de entrada compartidas, con mensajes claros en español.

Cada módulo de ``labcode`` valida sus argumentos antes de tocar NumPy o PyTorch,
para que un error diga qué se esperaba y qué se recibió en lugar de mostrar una
traza interna de difusión de formas.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

from labcode.utils.errors import LabcodeRuntimeError, LabcodeTypeError, LabcodeValueError

__all__ = [
    "MAX_MASK_LEN",
    "MAX_SEED",
    "atomic_replace_dir",
    "atomic_write_text",
    "device",
    "finite_float",
    "finite_tensor",
    "flag",
    "mask_length",
    "nonnegative_int",
    "positive_float",
    "positive_int",
    "probability",
    "seed",
    "text",
    "token_ids",
    "writable_file",
    "writable_folder",
]

#: Mayor longitud de una máscara ``(n, n)`` (32 768: una máscara booleana de 1 GiB).
MAX_MASK_LEN = 2**15

#: Mayor semilla admitida, la de ``numpy.random.RandomState`` (32 bits sin signo).
MAX_SEED = 2**32 - 1


def positive_int(name: str, value) -> int:
    """Devuelve ``value`` como ``int`` si es un entero positivo.

    Raises
    ------
    TypeError
        Si no es un entero (los booleanos tampoco valen).
    ValueError
        Si es un entero ``<= 0``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise LabcodeTypeError(
            f"{name} debe ser un entero positivo; se recibió {value!r} "
            f"(tipo {type(value).__name__})."
        )
    if value <= 0:
        raise LabcodeValueError(f"{name} debe ser un entero positivo (> 0); se recibió {value}.")
    return int(value)


def token_ids(
    input_ids,
    *,
    who: str,
    vocab_size: int,
    max_positions: int,
    limit_name: str,
    past: int = 0,
    extra: int = 0,
    check_values: bool | None = None,
) -> None:
    """Comprueba un lote de identificadores de *token* para un modelo de lenguaje.

    Parameters
    ----------
    input_ids : torch.Tensor
        Enteros de forma ``(B, T)``, no vacío, con valores en ``[0, vocab_size)``.
    who : str
        Quién comprueba (aparece al principio del mensaje de error).
    vocab_size, max_positions : int
        Tamaño del vocabulario y contexto máximo del modelo.
    limit_name : str
        Nombre del contexto máximo en la configuración (``"n_positions"``...).
    past, extra : int
        Posiciones ya en la caché KV y *tokens* que se van a generar; cuentan
        para el contexto máximo.
    check_values : bool or None
        Si se mira que los ids estén en el vocabulario. ``None`` (lo que usa
        ``forward``): sólo si el tensor está en CPU, porque en GPU leer el
        mínimo y el máximo obliga a sincronizar en cada llamada. ``generate``
        pasa ``True``: lo comprueba una vez, en cualquier dispositivo.

    Raises
    ------
    TypeError
        Si no es un tensor de enteros.
    ValueError
        Si la forma no es ``(B, T)``, está vacío, no cabe en el contexto o hay
        identificadores fuera del vocabulario.
    """
    B, T = _token_ids_shape(input_ids, who)
    total = past + T + extra
    if total > max_positions:
        raise LabcodeValueError(
            f"{who}: secuencia demasiado larga: {past} en caché + {T} de entrada + {extra} "
            f"nuevos = {total} posiciones; el máximo es {limit_name}={max_positions}. "
            "Recorte la entrada o genere menos tokens."
        )
    if check_values is None:
        check_values = input_ids.device.type == "cpu"
    if not check_values:
        return
    lo, hi = int(input_ids.min()), int(input_ids.max())
    if lo < 0 or hi >= vocab_size:
        raise LabcodeValueError(
            f"{who}: los ids deben estar en el vocabulario [0, {vocab_size}); se recibieron "
            f"valores entre {lo} y {hi}."
        )


def _token_ids_shape(input_ids, who: str) -> tuple[int, int]:
    """``(B, T)`` de un tensor de enteros no vacío de dos dimensiones (o un error claro)."""
    import torch

    if not isinstance(input_ids, torch.Tensor):
        raise LabcodeTypeError(
            f"{who}: input_ids debe ser un torch.Tensor de enteros (B, T); "
            f"se recibió {type(input_ids).__name__}."
        )
    dtype = input_ids.dtype
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        raise LabcodeTypeError(
            f"{who}: input_ids debe contener enteros (torch.long); se recibió dtype={dtype}."
        )
    if input_ids.dim() != 2:
        raise LabcodeValueError(
            f"{who}: input_ids debe tener forma (B, T); se recibió la forma "
            f"{tuple(input_ids.shape)}. Para una sola secuencia usa input_ids[None]."
        )
    B, T = input_ids.shape
    if B == 0 or T == 0:
        raise LabcodeValueError(
            f"{who}: input_ids no puede estar vacío; se recibió la forma {(B, T)}."
        )
    return B, T


def mask_length(name: str, value) -> int:
    """Longitud de una máscara ``(n, n)``: entero en ``[1, MAX_MASK_LEN]``."""
    n = positive_int(name, value)
    if n > MAX_MASK_LEN:
        raise LabcodeValueError(
            f"{name}={n} es demasiado grande para una máscara ({n}x{n}); el máximo es "
            f"{MAX_MASK_LEN}."
        )
    return n


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def int_at_least(name: str, value, minimum: int) -> int:
    """``value`` como ``int`` si es un entero ``>= minimum`` (los booleanos no valen).

    Raises
    ------
    TypeError
        Si no es un entero.
    ValueError
        Si es menor que ``minimum``.
    """
    if not _is_int(value):
        raise LabcodeTypeError(
            f"{name} debe ser un entero >= {minimum}; se recibió {value!r} "
            f"(tipo {type(value).__name__})."
        )
    if value < minimum:
        raise LabcodeValueError(f"{name} debe ser un entero >= {minimum}; se recibió {value}.")
    return int(value)


def nonnegative_int(name: str, value) -> int:
    """``value`` como ``int`` si es un entero ``>= 0`` (los booleanos no valen)."""
    return int_at_least(name, value, 0)


def finite_float(name: str, value, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` como ``float`` finito dentro de ``[low, high]`` (extremos abiertos a elegir).

    Raises
    ------
    labcode.utils.errors.LabcodeTypeError
        Si no es un número real (las cadenas y los booleanos no valen).
    LabcodeValueError
        Si es NaN, infinito o está fuera del intervalo.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise LabcodeTypeError(
            f"{name} debe ser un número real; se recibió {value!r} (tipo {type(value).__name__})."
        )
    x = float(value)
    if not math.isfinite(x):
        raise LabcodeValueError(f"{name} debe ser un número finito; se recibió {x}.")
    below = low is not None and (x <= low if low_open else x < low)
    above = high is not None and (x >= high if high_open else x > high)
    if below or above:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{left}, {right}" \
                   f"{')' if high_open or high is None else ']'}"
        raise LabcodeValueError(f"{name} debe estar en {interval}; se recibió {x:g}.")
    return x


def positive_float(name: str, value) -> float:
    """``value`` como ``float`` finito y estrictamente positivo."""
    return finite_float(name, value, low=0.0, low_open=True)


def probability(name: str, value) -> float:
    """Probabilidad de *dropout*: un ``float`` en ``[0, 1)`` (con 1 no pasaría nada)."""
    return finite_float(name, value, low=0.0, high=1.0, high_open=True)


def seed(value, name: str = "seed") -> int:
    """Semilla válida para NumPy y PyTorch: un entero en ``[0, 2**32 - 1]``."""
    if not _is_int(value):
        raise LabcodeTypeError(
            f"{name} debe ser un entero entre 0 y {MAX_SEED}; se recibió {value!r} "
            f"(tipo {type(value).__name__})."
        )
    if not 0 <= value <= MAX_SEED:
        raise LabcodeValueError(
            f"{name} debe ser un entero entre 0 y {MAX_SEED} (2**32 - 1); se recibió {value}."
        )
    return int(value)


def text(name: str, value, *, allow_empty: bool = True) -> str:
    """Una cadena que se puede codificar en UTF-8 (sin sustitutos sueltos como ``"\\ud800"``)."""
    if not isinstance(value, str):
        raise LabcodeTypeError(
            f"{name} debe ser una cadena (str); se recibió {type(value).__name__}."
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = value[err.start]
        raise LabcodeValueError(
            f"{name} contiene un carácter que no es Unicode válido ({bad!r} en la posición "
            f"{err.start}: un sustituto suelto, surrogate); quítalo o corrige la codificación."
        ) from None
    if not allow_empty and not value:
        raise LabcodeValueError(f"{name} no puede ser una cadena vacía.")
    return value


def device(value, name: str = "device"):
    """``torch.device`` de ``value`` si existe en esta máquina.

    Raises
    ------
    labcode.utils.errors.LabcodeValueError
        Si el nombre no es un dispositivo de PyTorch.
    labcode.utils.errors.LabcodeRuntimeError
        Si se pide ``cuda`` (o ``mps``) y no está disponible.
    """
    import torch

    if not isinstance(value, (str, torch.device)):
        raise LabcodeTypeError(
            f"{name} debe ser None, una cadena ('cpu', 'cuda', 'cuda:0'...) o un torch.device; "
            f"se recibió {type(value).__name__}."
        )
    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError):
        raise LabcodeValueError(
            f"{name}={value!r} no es un dispositivo de PyTorch (prueba 'cpu' o 'cuda')."
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise LabcodeRuntimeError(
                f"{name}={value!r}: esta máquina no tiene CUDA (torch.cuda.is_available() es "
                "False). Usa device='cpu' o device=None para elegir automáticamente."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise LabcodeRuntimeError(
                f"{name}={value!r}: sólo hay {torch.cuda.device_count()} GPU (índices desde 0)."
            )
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise LabcodeRuntimeError(
                f"{name}={value!r}: MPS no está disponible en esta máquina; usa device='cpu'."
            )
    elif dev.type != "cpu":
        raise LabcodeValueError(f"{name}={value!r}: labcode admite 'cpu', 'cuda' y 'mps'.")
    return dev


def _probe_write(folder: Path, what: str) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LabcodeValueError(f"{what}: no se puede escribir en {folder} (permiso denegado).")


def _existing_parent(path: Path) -> Path:
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def writable_file(path, what: str = "fichero") -> Path:
    """Comprueba, **antes** de un cálculo largo, que se podrá escribir el fichero ``path``.

    No crea nada: mira que ``path`` no sea una carpeta y que la primera carpeta
    existente por encima admita escritura.
    """
    target = Path(os.fspath(path)).expanduser()
    if target.is_dir():
        raise LabcodeValueError(f"{what}: {target} es una carpeta; se esperaba un fichero.")
    if target.exists() and not os.access(target, os.W_OK):
        raise LabcodeValueError(f"{what}: no se puede escribir en {target} (permiso denegado).")
    parent = _existing_parent(target.parent)
    if not parent.is_dir():
        raise LabcodeValueError(f"{what}: {parent} existe pero no es una carpeta.")
    _probe_write(parent, what)
    return target


def writable_folder(path, what: str = "carpeta") -> Path:
    """Comprueba, antes de un cálculo largo, que se podrá crear (o reemplazar) la
    carpeta ``path``."""
    target = Path(os.fspath(path)).expanduser()
    if target.exists() and not target.is_dir():
        raise LabcodeValueError(f"{what}: {target} existe y no es una carpeta.")
    # El guardado atómico crea una carpeta temporal junto a ``path`` y la renombra.
    parent = _existing_parent(target.parent)
    if not parent.is_dir():
        raise LabcodeValueError(f"{what}: {parent} existe pero no es una carpeta.")
    _probe_write(parent, what)
    return target


def finite_tensor(name: str, t) -> None:
    """Rechaza NaN e infinitos en un tensor **de CPU** (en GPU no se mira: obligaría a
    sincronizar; sólo lo llaman funciones públicas, nunca un ``forward``)."""
    if t.device.type != "cpu" or not t.is_floating_point() or t.numel() == 0:
        return
    import torch

    if not bool(torch.isfinite(t).all()):
        raise LabcodeValueError(
            f"{name} contiene NaN o infinitos; el resultado también los tendría. Revisa de "
            "dónde salen esos valores."
        )


# --- Escritura atómica ---------------------------------------------------------------


def atomic_write_text(path, text: str) -> Path:
    """Escribe ``text`` en ``path`` de forma atómica: un fichero temporal en la misma
    carpeta que después se renombra (``os.replace``). Una interrupción deja el
    fichero anterior intacto o ninguno, nunca uno a medias."""
    import tempfile

    target = Path(os.fspath(path)).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def atomic_replace_dir(dest, build) -> Path:
    """Publica una carpeta de forma atómica: ``build(tmp)`` escribe todo en una carpeta
    temporal **junto a** ``dest`` y, sólo si termina sin error, se renombra a ``dest``.

    Si ``dest`` ya existía se aparta primero (renombrada a ``.<nombre>.old-*``), se
    pone la nueva en su sitio y después se borra la vieja. Una interrupción (Ctrl-C,
    ``SIGKILL``, un error en ``build``) deja el modelo anterior intacto, o ninguna
    carpeta si no lo había: nunca una mezcla. Con ``SIGKILL`` pueden quedar carpetas
    ocultas ``.<nombre>.tmp-*`` junto a ``dest``, que se pueden borrar.
    """
    import shutil
    import tempfile

    dest = Path(os.fspath(dest)).expanduser()
    if dest.exists() and not dest.is_dir():
        raise LabcodeValueError(f"{dest} existe y no es una carpeta: no se puede guardar ahí.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    old: Path | None = None
    try:
        build(tmp)
        if dest.exists():
            old = dest.parent / f".{dest.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
            os.rename(dest, old)
        os.rename(tmp, dest)
    except BaseException:
        if old is not None and not dest.exists():
            os.rename(old, dest)  # se devuelve el modelo anterior a su sitio
            old = None
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return dest


def flag(name: str, value) -> bool:
    """Un interruptor: ``True`` o ``False`` (también ``numpy.bool_``); nada más."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise LabcodeTypeError(f"{name} debe ser True o False; se recibió {value!r}.")
