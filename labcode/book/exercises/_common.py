"""Ayudantes comunes de las comprobaciones de los ejercicios: informar, convertir
la respuesta del lector y compararla sin lanzar nunca una excepción."""

from __future__ import annotations

import functools
import math

import numpy as np


def report(ok: bool, message: str) -> bool:
    print(("✅ " if ok else "❌ ") + message)
    return ok


def plain(x, depth: int = 0):
    """Convierte tensores de PyTorch (también con ``requires_grad``, en GPU o en
    bfloat16) en arrays de NumPy, dentro de tuplas, listas y diccionarios."""
    if depth > 4:
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        t = x.detach().cpu()
        if str(getattr(t, "dtype", "")) == "torch.bfloat16":
            t = t.float()
        return t.numpy()
    if isinstance(x, dict):
        return {k: plain(v, depth + 1) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(plain(v, depth + 1) for v in x)
    return x


def never_raises(name: str):
    """Decorador: convierte la respuesta con ``plain`` y, si la comprobación
    falla por una respuesta imprevista, lo explica en vez de lanzar una excepción."""

    def wrap(check):
        @functools.wraps(check)
        def run(*args, **kwargs):
            try:
                args = (plain(args[0]), *args[1:]) if args else args
                return check(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - una comprobación nunca lanza
                return report(False, f"{name}: no se pudo comprobar la respuesta "
                                      f"({type(err).__name__}: {err}).")

        return run

    return wrap


def number_or_error(name: str, answer: dict, key: str, cast=float):
    """``(valor, None)``, o ``(None, mensaje)`` si ``answer[key]`` no es un número válido.

    Exacto: los textos (``"11"``) y los booleanos no son números; con
    ``cast=int`` el valor debe ser entero (``196.0`` vale, ``196.9`` no); NaN e
    infinitos se rechazan. Los tensores y arrays de un solo elemento se convierten
    (``detach``, ``cpu``, ``numpy``). Nunca lanza excepciones.
    """
    kind = "un entero" if cast is int else "un número"
    raw = answer[key]
    try:
        value = plain(raw)
        if isinstance(value, (str, bytes)):
            return None, f"{name}: {key} debe ser {kind}, no un texto; se recibió {raw!r}."
        if isinstance(value, (list, tuple, dict, set)):
            return None, f"{name}: {key} debe ser {kind}, no una colección; se recibió {raw!r}."
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf" or arr.size != 1:
            return None, f"{name}: {key} debe ser {kind}; se recibió {raw!r}."
        number = arr.reshape(()).item()
        if not math.isfinite(number):
            return None, f"{name}: {key} debe ser {kind} finito; se recibió {number!r}."
        if cast is int:
            if number != math.floor(number):
                return None, f"{name}: {key} debe ser un entero; se recibió {number!r}."
            return int(number), None
        return float(number), None
    except Exception:  # noqa: BLE001 - la respuesta puede ser cualquier cosa
        return None, f"{name}: {key} debe ser {kind}; se recibió {raw!r}."


def numeric_array(answer) -> np.ndarray | None:
    """Array ``float`` de una respuesta numérica, o ``None`` (textos, objetos...)."""
    try:
        arr = np.asarray(plain(answer))
        if arr.dtype.kind not in "iuf":
            return None
        return arr.astype(float)
    except Exception:  # noqa: BLE001
        return None


def compare_arrays(name: str, answer, expected, atol: float = 1e-4) -> tuple[bool, str]:
    """Compara ``answer`` con ``expected`` (diferencia máxima ``<= atol``) y explica la
    diferencia. Nunca lanza excepciones."""
    if answer is None:
        return False, f"{name}: todavía no hay respuesta (el valor es None)."
    got = numeric_array(answer)
    if got is None:
        return False, f"{name}: no se pudo convertir la respuesta en un array numérico."
    exp = np.asarray(expected, dtype=float)
    if got.shape != exp.shape:
        return False, f"{name}: se esperaba la forma {exp.shape}; se recibió {got.shape}."
    if not np.all(np.isfinite(got)):
        return False, f"{name}: la respuesta contiene NaN o infinitos."
    err = float(np.max(np.abs(got - exp))) if exp.size else 0.0
    if err > atol:
        return False, f"{name}: la diferencia máxima con la solución es {err:.3g} (> {atol:g})."
    return True, f"{name}: correcto (diferencia máxima {err:.1e})."


def softmax_rows(s, axis: int = -1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def diagnose_mistake(name: str, got: np.ndarray, mistakes: dict, atol: float) -> str | None:
    for message, candidate in mistakes.items():
        cand = np.asarray(candidate, dtype=float)
        if cand.shape == got.shape and np.max(np.abs(got - cand)) <= atol:
            return f"{name}: {message}."
    return None
