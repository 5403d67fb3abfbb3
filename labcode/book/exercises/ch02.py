"""Capítulo 2 (autoatención): ejercicio 11.1, la atención calculada a mano."""

from __future__ import annotations

import numpy as np

from labcode.book.exercises._common import (
    compare_arrays,
    diagnose_mistake,
    never_raises,
    numeric_array,
    report,
    softmax_rows,
)

#: Datos del ejercicio 11.1 (tres tokens, ``d_k = d_v = 2``, números enteros pequeños).
EXERCISE_11_1 = {
    "tokens": ["yo", "como", "pan"],
    "Q": np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]),
    "K": np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
    "V": np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]]),
}


def _ex11_1_candidates() -> tuple[dict, dict]:
    """Pesos y salida correctos y los de los errores más comunes (mismo formato)."""
    q, k, v = (EXERCISE_11_1[key] for key in ("Q", "K", "V"))
    d_k = q.shape[-1]
    raw = q @ k.T
    scaled = raw / np.sqrt(d_k)
    correct = softmax_rows(scaled)
    weight_mistakes = {
        "olvidaste dividir por √d_k antes de la softmax": softmax_rows(raw),
        "dividiste por d_k en lugar de por √d_k": softmax_rows(raw / d_k),
        "multiplicaste por √d_k en lugar de dividir": softmax_rows(raw * np.sqrt(d_k)),
        "normalizaste por columnas (softmax sobre el eje 0): cada FILA (consulta) debe sumar 1": (
            softmax_rows(scaled, axis=0)
        ),
        "calculaste K·Qᵀ en lugar de Q·Kᵀ (filas = consultas, columnas = claves)": (
            softmax_rows(scaled.T)
        ),
        "es la traspuesta de la solución: las filas son consultas y las columnas claves": (
            correct.T
        ),
        "olvidaste la softmax (son las puntuaciones escaladas Q·Kᵀ/√d_k)": scaled,
        "olvidaste la softmax y la escala (son las puntuaciones Q·Kᵀ)": raw,
    }
    output_mistakes = {
        f"la salida no cuadra porque {msg}": w @ v
        for msg, w in weight_mistakes.items()
        if w.shape == correct.shape
    }
    return {"weights": correct, "output": correct @ v}, {
        "weights": weight_mistakes,
        "output": output_mistakes,
    }


#: Tolerancias del ejercicio 11.1, pensadas para quien redondea cada paso a dos decimales.
#: Los pesos redondeados se equivocan en menos de 0,01; la salida multiplica esos pesos
#: por V (valores de hasta 3), así que su error puede llegar a 3 · 3 · 0,005 = 0,045.
TOLERANCES_11_1 = {"weights": 0.01, "output": 0.05}


def _parts_11_1(answer, n: int, d_v: int) -> tuple[dict | None, str | None]:
    """Separa la respuesta del 11.1 en ``{"weights": ..., "output": ...}`` o explica el problema.

    Si es la tupla ``(pesos, salida)`` (orden cambiado), devuelve las partes en su
    sitio y un aviso que hace fallar el ejercicio.
    """
    if isinstance(answer, dict):
        parts = {key: answer[key] for key in ("weights", "output") if key in answer}
        if not parts:
            return None, ("el diccionario debe tener la clave 'weights' y/o 'output'; se "
                          f"recibieron las claves {sorted(map(str, answer))}.")
        return parts, None
    if isinstance(answer, tuple):
        if len(answer) != 2:
            return None, ("se esperaba la tupla (salida, pesos); se recibió una tupla de "
                          f"{len(answer)} elementos.")
        shapes = [np.shape(x) if not isinstance(x, str) else None for x in answer]
        if shapes == [(n, n), (n, d_v)]:
            return {"output": answer[1], "weights": answer[0]}, (
                "orden: devolviste (pesos, salida), pero el orden es (salida, pesos), el mismo "
                "que scaled_dot_product_attention. Abajo se comprueba cada parte en su sitio.")
        return {"output": answer[0], "weights": answer[1]}, None
    arr = numeric_array(answer)
    if arr is None:
        return None, "no se pudo convertir la respuesta en un array numérico."
    if arr.shape == (n, n):
        return {"weights": arr}, None
    if arr.shape == (n, d_v):
        return {"output": arr}, None
    return None, (f"se esperaba la matriz de pesos {(n, n)} o la salida {(n, d_v)}; se "
                  f"recibió la forma {arr.shape}.")


#: Nombre en los mensajes de cada parte de la respuesta del 11.1.
_LABELS_11_1 = {"weights": "pesos", "output": "salida"}


def _check_part_11_1(key, answer, expected, mistakes, atol, n) -> tuple[bool, str]:
    name = _LABELS_11_1[key]
    ok, message = compare_arrays(name, answer, expected, atol=atol)
    if ok or answer is None:
        return ok, message
    got = numeric_array(answer)
    if got is None:
        return ok, message
    if got.shape == expected.shape and np.isfinite(got).all():
        hint = diagnose_mistake(name, got, mistakes, atol)
        if hint is not None:
            return ok, hint
        if key == "weights" and not np.allclose(got.sum(axis=1), 1.0, atol=atol):
            sums = np.round(got.sum(axis=1), 3).tolist()
            return ok, (f"pesos: cada fila debe sumar 1 (es una softmax); las sumas de tus filas "
                        f"son {sums}.")
    elif key == "output" and got.shape == (n, n):
        return ok, "salida: tiene forma (3, 3): ¿olvidaste multiplicar los pesos por V?"
    return ok, message


@never_raises("Ejercicio 11.1")
def check_11_1(answer, atol: float | None = None) -> bool:
    """Comprueba el ejercicio 11.1 (autoatención a mano con ``EXERCISE_11_1``).

    Parameters
    ----------
    answer : array_like, tuple or dict
        Cualquiera de estas formas:

        - la matriz de pesos de atención ``(3, 3)`` (filas = consultas);
        - la salida ``(3, 2)`` (``pesos @ V``);
        - la tupla ``(salida, pesos)`` (el orden de ``scaled_dot_product_attention``;
          si llega al revés, ``(pesos, salida)``, lo dice);
        - un diccionario ``{"weights": ..., "output": ...}`` con una o ambas claves.

        ``None`` significa «todavía no hay respuesta».
    atol : float, optional
        Tolerancia común. Por defecto, ``TOLERANCES_11_1``: con dos decimales
        en cada paso basta (0,01 en los pesos y 0,05 en la salida).

    Returns
    -------
    bool
        ``True`` si todo lo entregado es correcto. Nunca lanza excepciones: explica
        el problema (forma, filas que no suman 1, escala o softmax olvidadas...).
    """
    if answer is None:
        return report(False, "Ejercicio 11.1: todavía no hay respuesta (el valor es None).")
    expected, mistakes = _ex11_1_candidates()
    n, d_v = expected["output"].shape
    parts, problem = _parts_11_1(answer, n, d_v)
    if parts is None:
        return report(False, f"Ejercicio 11.1: {problem}")
    all_ok = problem is None
    if problem is not None:
        print("❌ " + problem)
    for key in ("weights", "output"):
        if key in parts:
            tol = TOLERANCES_11_1[key] if atol is None else atol
            ok, message = _check_part_11_1(key, parts[key], expected[key], mistakes[key],
                                           tol, n)
            print(("✅ " if ok else "❌ ") + message)
            all_ok = all_ok and ok
    if all_ok:
        return report(True, "Ejercicio 11.1 resuelto: ¡la atención calculada a mano es correcta!")
    return report(False, "Ejercicio 11.1: todavía no es correcto; revisa los mensajes de arriba.")
