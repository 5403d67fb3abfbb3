"""Capítulo 3 (atención multi-cabeza): ejercicio 11.3."""

from __future__ import annotations

import numpy as np

from labcode.book.exercises._common import (
    compare_arrays,
    never_raises,
    numeric_array,
    report,
    softmax_rows,
)


def _mha_reference(x, w_q, w_k, w_v, w_o, num_heads, *, scale="head", use_wo=True,
                   split="ok", axis=-1, merge="ok"):
    """Atención multi-cabeza de referencia, con variantes que reproducen errores comunes.

    ``split="reshape"``: dividir con un ``reshape`` directo a ``(b, h, n, d_head)``.
    ``merge="reshape"``: unir con un ``reshape`` directo de ``(b, h, n, d_head)`` a
    ``(b, n, d_model)``, sin trasponer antes. ``merge=None`` devuelve las cabezas sin unir.
    """
    b, n, d_model = x.shape
    d_head = d_model // num_heads

    def heads(t):
        if split == "reshape":  # error común: reshape directo sin trasponer
            return t.reshape(b, num_heads, n, d_head)
        return t.reshape(b, n, num_heads, d_head).transpose(0, 2, 1, 3)

    q, k, v = heads(x @ w_q), heads(x @ w_k), heads(x @ w_v)  # (B, h, n, d_head)
    s = q @ k.transpose(0, 1, 3, 2)
    if scale == "head":
        s = s / np.sqrt(d_head)
    elif scale == "model":
        s = s / np.sqrt(d_model)
    w = softmax_rows(s, axis=axis)  # (B, h, n, n)
    out = w @ v  # (B, h, n, d_head)
    if merge is None:
        return out, w
    if merge == "reshape":  # error común: reshape directo sin trasponer
        out = out.reshape(b, n, d_model)
    else:
        out = out.transpose(0, 2, 1, 3).reshape(b, n, d_model)
    return (out @ w_o if use_wo else out), w


#: Errores típicos del ejercicio 11.3 (mensaje y cómo reproducirlos con _mha_reference).
_MISTAKES_11_3 = {
    "olvidaste aplicar la proyección de salida W_o": {"use_wo": False},
    "escalaste con √d_model en lugar de √d_head": {"scale": "model"},
    "olvidaste dividir las puntuaciones por √d_head": {"scale": "none"},
    "cabezas mal divididas: hiciste un reshape directo a (batch, h, n, d_head), que reparte "
    "filas enteras (posiciones) entre las cabezas. Haz reshape a (batch, n, h, d_head) y después "
    "traspón los ejes 1 y 2 (la unión estaba bien)": {"split": "reshape"},
    "cabezas mal unidas: pasaste de (batch, h, n, d_head) a (batch, n, d_model) con un reshape "
    "directo. Traspón antes a (batch, n, h, d_head) y después haz el reshape (la división "
    "estaba bien)": {"merge": "reshape"},
    "cabezas mal divididas Y mal unidas: usaste reshape directo en los dos sentidos (uno deshace "
    "al otro, pero cada cabeza ha atendido entre trozos de posiciones distintas). Divide con "
    "reshape a (batch, n, h, d_head) + trasponer, y une con trasponer + reshape": {
        "split": "reshape", "merge": "reshape"},
    "la softmax va sobre el último eje (las claves), no sobre el penúltimo": {"axis": -2},
}


def _call_11_3(fn, x, weights, num_heads, title, where):
    """Llama a la función del lector; devuelve ``(salida, pesos, None)`` o ``(.., .., error)``."""
    try:
        result = fn(x.copy(), *(w.copy() for w in weights), num_heads)
    except NotImplementedError:
        return None, None, (f"{title}: la función todavía no está implementada (lanza "
                            "NotImplementedError). Completa los TODO.")
    except Exception as err:  # noqa: BLE001 - el error es del código del lector
        return None, None, (f"{title}: tu función lanzó {type(err).__name__}: {err} {where}. "
                            "Revisa las formas paso a paso (imprime .shape tras cada operación).")
    if result is None:
        return None, None, (f"{title}: la función devolvió None: todavía no está implementada "
                            "(¿falta el return?).")
    got_w = None
    if isinstance(result, tuple):
        if len(result) == 0:
            return None, None, f"{title}: la función devolvió una tupla vacía."
        got_w = result[1] if len(result) > 1 else None
        result = result[0]
    got = numeric_array(result)
    if got is not None:
        return got, got_w, None
    return None, None, (f"{title}: no se pudo convertir lo devuelto en un array numérico "
                        f"(tipo {type(result).__name__}).")


def _shape_hint_11_3(got_shape, batch, num_heads, n, d_head) -> str:
    if got_shape == (batch, num_heads, n, d_head):
        return " Falta unir las cabezas (merge_heads) y aplicar W_o."
    if got_shape == (batch, num_heads, n, n):
        return " Parece que devolviste los pesos de atención en lugar de la salida."
    return ""


def _values_hint_11_3(got, x, weights, num_heads, first_config: bool) -> str:
    for message, kwargs in _MISTAKES_11_3.items():
        wrong, _ = _mha_reference(x, *weights, num_heads, **kwargs)
        if np.max(np.abs(got - wrong)) <= 1e-6:
            return f" Diagnóstico: {message}."
    if not first_config:
        return (" Funcionó con la configuración anterior: ¿dejaste fijo algún tamaño "
                "(num_heads, d_head...) en lugar de calcularlo?")
    return ""


@never_raises("Ejercicio 11.3")
def check_11_3(fn) -> bool:
    """Comprueba el ejercicio 11.3: ``fn(x, W_q, W_k, W_v, W_o, num_heads)``.

    Llama a la función del lector con entradas aleatorias ``x`` de forma
    ``(batch, n, d_model)`` y pesos ``(d_model, d_model)`` (aplicados como
    ``x @ W``), y compara su salida con :class:`labcode.numpy_ref.attention.MultiHeadAttentionNumPy`
    (tolerancia ``1e-6``) para dos configuraciones de ``d_model`` y ``num_heads``.
    La función puede devolver la salida ``(batch, n, d_model)`` o la tupla
    ``(salida, pesos)`` con pesos ``(batch, num_heads, n, n)``.

    Returns
    -------
    bool
        ``True`` si coincide. Nunca lanza excepciones: si ``fn`` es ``None``,
        devuelve ``None`` o lanza ``NotImplementedError``, dice que aún no está
        implementada; si lanza otra excepción o la forma no es la esperada, lo explica.
    """
    from labcode.numpy_ref.attention import MultiHeadAttentionNumPy

    title = "Ejercicio 11.3"
    if fn is None:
        return report(False, f"{title}: todavía no hay respuesta (el valor es None).")
    if not callable(fn):
        return report(
            False,
            f"{title}: se esperaba una función fn(x, W_q, W_k, W_v, W_o, num_heads); "
            f"se recibió un objeto de tipo {type(fn).__name__}.",
        )
    configs = [(2, 5, 8, 2, 11), (3, 4, 12, 3, 12)]  # (batch, n, d_model, num_heads, seed)
    for i, (batch, n, d_model, num_heads, seed) in enumerate(configs):
        x = np.random.default_rng(seed).normal(size=(batch, n, d_model))
        mha = MultiHeadAttentionNumPy(d_model, num_heads, seed=seed)
        weights = (mha.W_q, mha.W_k, mha.W_v, mha.W_o)
        expected, expected_w = mha(x)
        where = f"(batch={batch}, n={n}, d_model={d_model}, num_heads={num_heads})"
        got, got_w, problem = _call_11_3(fn, x, weights, num_heads, title, where)
        if problem is not None:
            return report(False, problem)
        if got.shape != expected.shape:
            hint = _shape_hint_11_3(got.shape, batch, num_heads, n, d_model // num_heads)
            return report(False, f"{title}: se esperaba una salida de forma {expected.shape} "
                                  f"{where}; se recibió {got.shape}.{hint}")
        if not np.all(np.isfinite(got)):
            return report(False, f"{title}: la salida contiene NaN o infinitos {where}.")
        err = float(np.max(np.abs(got - expected)))
        if err > 1e-6:
            hint = _values_hint_11_3(got, x, weights, num_heads, first_config=i == 0)
            return report(False, f"{title}: la forma es correcta pero los valores no {where}: "
                                  f"diferencia máxima {err:.3g} (> 1e-06).{hint}")
        if got_w is not None:
            ok, message = compare_arrays("pesos", got_w, expected_w, atol=1e-6)
            if not ok:
                return report(False, f"{title}: la salida es correcta, pero {message}")
    return report(
        True,
        f"{title} resuelto: tu atención multi-cabeza coincide con MultiHeadAttentionNumPy "
        f"en {len(configs)} configuraciones (diferencia ≤ 1e-6).",
    )
