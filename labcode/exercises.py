"""Comprobaciones de los ejercicios del libro.

Cada función ``check_11_X`` recibe la respuesta del lector, la compara con la
solución calculada por ``labcode`` y escribe un mensaje en español. Devuelve
``True`` si la respuesta es correcta y ``False`` si no (o si aún no hay
respuesta: ``None``). Nunca lanza una excepción por una respuesta mal formada:
explica qué se esperaba.
"""

from __future__ import annotations

import numpy as np


def _report(ok: bool, message: str) -> bool:
    print(("✅ " if ok else "❌ ") + message)
    return ok


def _compare_arrays(name: str, answer, expected, atol: float = 1e-4) -> tuple[bool, str]:
    """Compara ``answer`` con ``expected`` y explica la diferencia (sin excepciones)."""
    if answer is None:
        return False, f"{name}: todavía no hay respuesta (el valor es None)."
    try:
        got = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
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
