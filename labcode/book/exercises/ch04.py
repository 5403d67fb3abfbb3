"""Capítulo 4 (codificación posicional): ejercicio 11.2, la tabla sinusoidal."""

from __future__ import annotations

import numpy as np

from labcode.book.exercises._common import never_raises, numeric_array, report


def _pe_variants_11_2(max_len: int, d_model: int) -> dict[str, np.ndarray]:
    """Tablas con los errores más comunes, para diagnosticar la respuesta."""
    pos = np.arange(max_len, dtype=float)[:, None]  # (max_len, 1)
    col = np.arange(d_model)
    pair = col // 2

    def interleaved(exponent, p=pos, swap=False):
        angles = p / 10000.0 ** exponent[None, :]  # (max_len, d_model)
        sin, cos = np.sin(angles), np.cos(angles)
        even = col % 2 == 0
        if swap:
            even = ~even
        return np.where(even[None, :], sin, cos)

    half = (d_model + 1) // 2
    w_half = 10000.0 ** (-2.0 * np.arange(half) / d_model)
    blocks = np.concatenate(
        [np.sin(pos * w_half), np.cos(pos * w_half[: d_model - half])], axis=1
    )
    return {
        "seno y coseno intercambiados: las columnas pares deben llevar el seno y las "
        "impares el coseno": interleaved(2 * pair / d_model, swap=True),
        "exponente 2i/d_model con i = índice de COLUMNA: i es el índice de la pareja "
        "(i = columna // 2), así que las columnas 2i y 2i+1 comparten frecuencia": interleaved(
            2 * col / d_model
        ),
        "exponente j/d_model con j = índice de columna: el seno y el coseno de una misma "
        "pareja deben compartir la frecuencia 1/10000^(2i/d_model)": interleaved(col / d_model),
        "exponente i/d_model en lugar de 2i/d_model (falta el factor 2)": interleaved(
            pair / d_model
        ),
        "multiplicaste por 10000^(2i/d_model) en lugar de dividir (el exponente debe ser "
        "negativo: frecuencias cada vez más bajas)": interleaved(-2 * pair / d_model),
        "las posiciones empiezan en 1; deben empezar en 0 (la fila 0 es [0, 1, 0, 1, ...])": (
            interleaved(2 * pair / d_model, p=pos + 1)
        ),
        "pusiste todos los senos y luego todos los cosenos en bloques; aquí se intercalan "
        "(columna 2i seno, 2i+1 coseno)": blocks,
    }


@never_raises("Ejercicio 11.2")
def check_11_2(answer, max_len: int | None = None, d_model: int | None = None) -> bool:
    """Comprueba el ejercicio 11.2 (tabla de codificación posicional sinusoidal).

    Parameters
    ----------
    answer:
        La función del lector ``mi_codificacion(max_len, d_model)`` (se prueba
        con varios tamaños) o la tabla que devolvió, de forma ``(max_len, d_model)``.
    max_len, d_model:
        Tamaños esperados de la tabla si ``answer`` es un array (por defecto se
        deducen de su forma).

    Returns
    -------
    bool
        ``True`` si coincide con :class:`labcode.numpy_ref.positional.PositionalEncodingSinusoidal`.
        Nunca lanza excepciones: explica el error en español.
    """
    name = "Ejercicio 11.2"
    if answer is None:
        return report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    try:
        if callable(answer):
            return report(*_check_function_11_2(answer))
        return report(*_check_table_11_2(answer, max_len, d_model))
    except Exception as err:  # nunca se deja escapar una excepción
        return report(
            False,
            f"{name}: no se pudo comprobar la respuesta ({type(err).__name__}: {err}); se "
            "esperaba una función mi_codificacion(max_len, d_model) o un array (max_len, d_model).",
        )


def _check_function_11_2(fn) -> tuple[bool, str]:
    """Prueba la función del lector con dos tamaños: ``(correcto, mensaje)``."""
    from labcode.numpy_ref.positional import sinusoidal_table

    name = "Ejercicio 11.2"
    cases = [(50, 16), (12, 6)]
    for n, d in cases:
        try:
            table = fn(n, d)
        except Exception as err:  # noqa: BLE001 - el error es del código del lector
            return False, (f"{name}: tu función lanzó {type(err).__name__}: {err} "
                           f"(llamada con max_len={n}, d_model={d}).")
        if table is None:
            return False, f"{name}: todavía no hay respuesta (tu función devuelve None)."
        ok, msg = _diagnose_11_2(table, n, d, sinusoidal_table(n, d))
        if not ok:
            return False, f"{msg} (con max_len={n}, d_model={d})."
    sizes = " y ".join(f"(max_len={n}, d_model={d})" for n, d in cases)
    return True, f"{name}: correcto: tu función reproduce la tabla sinusoidal para {sizes}."


def _check_table_11_2(answer, max_len: int | None, d_model: int | None) -> tuple[bool, str]:
    """Comprueba una tabla ya calculada: ``(correcto, mensaje)``."""
    from labcode.numpy_ref.positional import sinusoidal_table

    name = "Ejercicio 11.2"
    arr = numeric_array(answer)
    if arr is None:
        return False, (f"{name}: no se pudo convertir la respuesta en un array numérico (se "
                       f"recibió un {type(answer).__name__}); se esperaba una función "
                       "mi_codificacion(max_len, d_model) o un array (max_len, d_model).")
    if arr.ndim != 2:
        return False, (f"{name}: se esperaba una tabla 2D (max_len, d_model); se recibió un "
                       f"array con forma {arr.shape}.")
    n = arr.shape[0] if max_len is None else int(max_len)
    d = arr.shape[1] if d_model is None else int(d_model)
    ok, msg = _diagnose_11_2(arr, n, d, sinusoidal_table(n, d))
    return ok, msg + "."


def _diagnose_11_2(answer, max_len: int, d_model: int, expected: np.ndarray) -> tuple[bool, str]:
    name = "Ejercicio 11.2"
    got = numeric_array(answer)
    if got is None:
        return False, f"{name}: no se pudo convertir la respuesta en un array numérico"
    if got.shape == (d_model, max_len) and max_len != d_model:
        return False, (
            f"{name}: la tabla está traspuesta: se esperaba la forma (max_len, d_model) = "
            f"{(max_len, d_model)} (una fila por posición); se recibió {got.shape}"
        )
    if got.shape != expected.shape:
        return False, (
            f"{name}: se esperaba la forma (max_len, d_model) = {expected.shape}; "
            f"se recibió {got.shape}"
        )
    if not np.all(np.isfinite(got)):
        return False, f"{name}: la tabla contiene NaN o infinitos"
    err = float(np.max(np.abs(got - expected)))
    if err <= 1e-4:
        return True, f"{name}: correcto (diferencia máxima {err:.1e})"
    for mistake, table in _pe_variants_11_2(max_len, d_model).items():
        if np.max(np.abs(got - table)) <= 1e-4:
            return False, f"{name}: casi: {mistake}"
    bad = np.argwhere(np.abs(got - expected) > 1e-4)
    row, column = (int(i) for i in bad[0])
    return False, (
        f"{name}: la diferencia máxima con la solución es {err:.3g}; el primer valor "
        f"incorrecto está en la posición {row}, columna {column} (se esperaba "
        f"{expected[row, column]:.4f}, se recibió {got[row, column]:.4f}). Recuerda: "
        "PE[pos, 2i] = sin(pos / 10000^(2i/d_model)) y PE[pos, 2i+1] = cos(mismo ángulo)"
    )
