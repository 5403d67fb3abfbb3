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


def _number(name: str, respuesta: dict, key: str, cast=float):
    """``(valor, None)``, o ``(None, mensaje)`` si ``respuesta[key]`` no es un número."""
    try:
        return cast(respuesta[key]), None
    except (TypeError, ValueError):
        kind = "un entero" if cast is int else "un número"
        return None, f"{name}: {key} debe ser {kind}; se recibió {respuesta[key]!r}."


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


# ---------------------------------------------------------------------------
# Capítulo 2 (autoatención) y capítulo 3 (multi-cabeza): ejercicios 11.1 y 11.3
# ---------------------------------------------------------------------------

#: Datos del ejercicio 11.1 (tres tokens, ``d_k = d_v = 2``, números enteros pequeños).
EJERCICIO_11_1 = {
    "tokens": ["yo", "como", "pan"],
    "Q": np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]),
    "K": np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
    "V": np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]]),
}


def _softmax_rows(s, axis: int = -1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _ex11_1_candidates() -> tuple[dict, dict]:
    """Pesos y salida correctos y los de los errores más comunes (mismo formato)."""
    q, k, v = (EJERCICIO_11_1[key] for key in ("Q", "K", "V"))
    d_k = q.shape[-1]
    raw = q @ k.T
    scaled = raw / np.sqrt(d_k)
    correct = _softmax_rows(scaled)
    weight_mistakes = {
        "olvidaste dividir por √d_k antes de la softmax": _softmax_rows(raw),
        "dividiste por d_k en lugar de por √d_k": _softmax_rows(raw / d_k),
        "multiplicaste por √d_k en lugar de dividir": _softmax_rows(raw * np.sqrt(d_k)),
        "normalizaste por columnas (softmax sobre el eje 0): cada FILA (consulta) debe sumar 1": (
            _softmax_rows(scaled, axis=0)
        ),
        "calculaste K·Qᵀ en lugar de Q·Kᵀ (filas = consultas, columnas = claves)": (
            _softmax_rows(scaled.T)
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
    return {"pesos": correct, "salida": correct @ v}, {
        "pesos": weight_mistakes,
        "salida": output_mistakes,
    }


def _diagnose(name: str, got: np.ndarray, mistakes: dict, atol: float) -> str | None:
    for message, candidate in mistakes.items():
        cand = np.asarray(candidate, dtype=float)
        if cand.shape == got.shape and np.max(np.abs(got - cand)) <= atol:
            return f"{name}: {message}."
    return None


def check_11_1(respuesta, atol: float = 1e-2) -> bool:
    """Comprueba el ejercicio 11.1 (autoatención a mano con ``EJERCICIO_11_1``).

    Parameters
    ----------
    respuesta : array_like, tuple or dict
        Cualquiera de estas formas:

        - la matriz de pesos de atención ``(3, 3)`` (filas = consultas);
        - la salida ``(3, 2)`` (``pesos @ V``);
        - la tupla ``(salida, pesos)`` (el orden de ``scaled_dot_product_attention``);
        - un diccionario ``{"pesos": ..., "salida": ...}`` con una o ambas claves.

        ``None`` significa «todavía no hay respuesta».
    atol : float
        Tolerancia: con dos decimales basta.

    Returns
    -------
    bool
        ``True`` si todo lo entregado es correcto. Nunca lanza excepciones: explica
        el problema (forma, filas que no suman 1, escala o softmax olvidadas...).
    """
    if respuesta is None:
        return _report(False, "Ejercicio 11.1: todavía no hay respuesta (el valor es None).")
    expected, mistakes = _ex11_1_candidates()
    n, d_v = expected["salida"].shape
    if isinstance(respuesta, dict):
        parts = {key: respuesta[key] for key in ("pesos", "salida") if key in respuesta}
        if not parts:
            return _report(
                False,
                "Ejercicio 11.1: el diccionario debe tener la clave 'pesos' y/o 'salida'; "
                f"se recibieron las claves {sorted(map(str, respuesta))}.",
            )
    elif isinstance(respuesta, tuple):
        if len(respuesta) != 2:
            return _report(
                False,
                "Ejercicio 11.1: se esperaba la tupla (salida, pesos); "
                f"se recibió una tupla de {len(respuesta)} elementos.",
            )
        parts = {"salida": respuesta[0], "pesos": respuesta[1]}
    else:
        try:
            arr = np.asarray(respuesta, dtype=float)
        except (TypeError, ValueError):
            return _report(
                False, "Ejercicio 11.1: no se pudo convertir la respuesta en un array numérico."
            )
        if arr.shape == (n, n):
            parts = {"pesos": arr}
        elif arr.shape == (n, d_v):
            parts = {"salida": arr}
        else:
            return _report(
                False,
                f"Ejercicio 11.1: se esperaba la matriz de pesos {(n, n)} o la salida "
                f"{(n, d_v)}; se recibió la forma {arr.shape}.",
            )
    all_ok = True
    for name in ("pesos", "salida"):
        if name not in parts:
            continue
        ok, message = _compare_arrays(name, parts[name], expected[name], atol=atol)
        if not ok and parts[name] is not None:
            try:
                got = np.asarray(parts[name], dtype=float)
            except (TypeError, ValueError):
                got = None
            if got is not None and got.shape == expected[name].shape and np.isfinite(got).all():
                hint = _diagnose(name, got, mistakes[name], atol)
                if hint is not None:
                    message = hint
                elif name == "pesos" and not np.allclose(got.sum(axis=1), 1.0, atol=atol):
                    sums = np.round(got.sum(axis=1), 3).tolist()
                    message = (
                        f"pesos: cada fila debe sumar 1 (es una softmax); las sumas de tus filas "
                        f"son {sums}."
                    )
            elif got is not None and name == "salida" and got.shape == (n, n):
                message = "salida: tiene forma (3, 3): ¿olvidaste multiplicar los pesos por V?"
        print(("✅ " if ok else "❌ ") + message)
        all_ok = all_ok and ok
    if all_ok:
        return _report(True, "Ejercicio 11.1 resuelto: ¡la atención calculada a mano es correcta!")
    return _report(False, "Ejercicio 11.1: todavía no es correcto; revisa los mensajes de arriba.")


def _mha_reference(x, w_q, w_k, w_v, w_o, num_heads, *, scale="head", use_wo=True,
                   split="ok", axis=-1, merge=True):
    """Atención multi-cabeza de referencia, con variantes que reproducen errores comunes."""
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
    w = _softmax_rows(s, axis=axis)  # (B, h, n, n)
    out = w @ v  # (B, h, n, d_head)
    if not merge:
        return out, w
    out = out.transpose(0, 2, 1, 3).reshape(b, n, d_model)
    return (out @ w_o if use_wo else out), w


def check_11_3(fn) -> bool:
    """Comprueba el ejercicio 11.3: ``fn(x, W_q, W_k, W_v, W_o, num_heads)``.

    Llama a la función del lector con entradas aleatorias ``x`` de forma
    ``(batch, n, d_model)`` y pesos ``(d_model, d_model)`` (aplicados como
    ``x @ W``), y compara su salida con :class:`labcode.attention_numpy.MultiHeadAttentionNumPy`
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
    from labcode.attention_numpy import MultiHeadAttentionNumPy

    title = "Ejercicio 11.3"
    if fn is None:
        return _report(False, f"{title}: todavía no hay respuesta (el valor es None).")
    if not callable(fn):
        return _report(
            False,
            f"{title}: se esperaba una función fn(x, W_q, W_k, W_v, W_o, num_heads); "
            f"se recibió un objeto de tipo {type(fn).__name__}.",
        )
    configs = [(2, 5, 8, 2, 11), (3, 4, 12, 3, 12)]  # (batch, n, d_model, num_heads, seed)
    for i, (batch, n, d_model, num_heads, seed) in enumerate(configs):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(batch, n, d_model))
        mha = MultiHeadAttentionNumPy(d_model, num_heads, seed=seed)
        weights = (mha.W_q, mha.W_k, mha.W_v, mha.W_o)
        expected, expected_w = mha(x)
        where = f"(batch={batch}, n={n}, d_model={d_model}, num_heads={num_heads})"
        try:
            result = fn(x.copy(), *(w.copy() for w in weights), num_heads)
        except NotImplementedError:
            return _report(
                False,
                f"{title}: la función todavía no está implementada (lanza NotImplementedError). "
                "Completa los TODO.",
            )
        except Exception as err:  # noqa: BLE001 - el error es del código del lector
            return _report(
                False,
                f"{title}: tu función lanzó {type(err).__name__}: {err} {where}. "
                "Revisa las formas paso a paso (imprime .shape tras cada operación).",
            )
        if result is None:
            return _report(
                False,
                f"{title}: la función devolvió None: todavía no está implementada "
                "(¿falta el return?).",
            )
        got_w = None
        if isinstance(result, tuple):
            if len(result) == 0:
                return _report(False, f"{title}: la función devolvió una tupla vacía.")
            got_w = result[1] if len(result) > 1 else None
            result = result[0]
        try:
            got = np.asarray(result, dtype=float)
        except (TypeError, ValueError):
            return _report(
                False,
                f"{title}: no se pudo convertir lo devuelto en un array numérico "
                f"(tipo {type(result).__name__}).",
            )
        d_head = d_model // num_heads
        if got.shape != expected.shape:
            if got.shape == (batch, num_heads, n, d_head):
                hint = " Falta unir las cabezas (merge_heads) y aplicar W_o."
            elif got.shape == (batch, num_heads, n, n):
                hint = " Parece que devolviste los pesos de atención en lugar de la salida."
            else:
                hint = ""
            return _report(
                False,
                f"{title}: se esperaba una salida de forma {expected.shape} {where}; "
                f"se recibió {got.shape}.{hint}",
            )
        if not np.all(np.isfinite(got)):
            return _report(False, f"{title}: la salida contiene NaN o infinitos {where}.")
        err = float(np.max(np.abs(got - expected)))
        if err > 1e-6:
            variants = {
                "olvidaste aplicar la proyección de salida W_o": {"use_wo": False},
                "escalaste con √d_model en lugar de √d_head": {"scale": "model"},
                "olvidaste dividir las puntuaciones por √d_head": {"scale": "none"},
                "partiste las cabezas con un reshape directo a (batch, h, n, d_head); hay que "
                "hacer reshape a (batch, n, h, d_head) y después trasponer": {"split": "reshape"},
                "la softmax va sobre el último eje (las claves), no sobre el penúltimo": {
                    "axis": -2
                },
            }
            hint = (
                " Funcionó con la configuración anterior: ¿dejaste fijo algún tamaño "
                "(num_heads, d_head...) en lugar de calcularlo?"
                if i > 0
                else ""
            )
            for message, kwargs in variants.items():
                wrong, _ = _mha_reference(x, *weights, num_heads, **kwargs)
                if np.max(np.abs(got - wrong)) <= 1e-6:
                    hint = f" Diagnóstico: {message}."
                    break
            return _report(
                False,
                f"{title}: la forma es correcta pero los valores no {where}: diferencia máxima "
                f"{err:.3g} (> 1e-06).{hint}",
            )
        if got_w is not None:
            ok, message = _compare_arrays("pesos", got_w, expected_w, atol=1e-6)
            if not ok:
                return _report(False, f"{title}: la salida es correcta, pero {message}")
    return _report(
        True,
        f"{title} resuelto: tu atención multi-cabeza coincide con MultiHeadAttentionNumPy "
        f"en {len(configs)} configuraciones (diferencia ≤ 1e-6).",
    )


# ---------------------------------------------------------------------------
# Ejercicio 11.2: codificación posicional sinusoidal (capítulo cap-posicional)
# ---------------------------------------------------------------------------


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
        ``True`` si coincide con :class:`labcode.positional.PositionalEncodingSinusoidal`.
        Nunca lanza excepciones: explica el error en español.
    """
    from labcode.positional import sinusoidal_table

    name = "Ejercicio 11.2"
    if answer is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    try:
        if callable(answer):
            cases = [(50, 16), (12, 6)]
            for n, d in cases:
                try:
                    table = answer(n, d)
                except Exception as err:
                    return _report(
                        False,
                        f"{name}: tu función lanzó {type(err).__name__}: {err} "
                        f"(llamada con max_len={n}, d_model={d}).",
                    )
                if table is None:
                    return _report(
                        False, f"{name}: todavía no hay respuesta (tu función devuelve None)."
                    )
                ok, msg = _diagnose_11_2(table, n, d, sinusoidal_table(n, d))
                if not ok:
                    return _report(False, f"{msg} (con max_len={n}, d_model={d}).")
            return _report(
                True,
                f"{name}: correcto: tu función reproduce la tabla sinusoidal para "
                + " y ".join(f"(max_len={n}, d_model={d})" for n, d in cases)
                + ".",
            )
        if hasattr(answer, "detach"):
            answer = answer.detach().cpu().numpy()
        try:
            arr = np.asarray(answer, dtype=float)
        except (TypeError, ValueError):
            return _report(
                False,
                f"{name}: no se pudo convertir la respuesta en un array numérico (se recibió "
                f"un {type(answer).__name__}); se esperaba una función "
                "mi_codificacion(max_len, d_model) o un array (max_len, d_model).",
            )
        if arr.ndim != 2:
            return _report(
                False,
                f"{name}: se esperaba una tabla 2D (max_len, d_model); se recibió un array "
                f"con forma {arr.shape}.",
            )
        n = arr.shape[0] if max_len is None else int(max_len)
        d = arr.shape[1] if d_model is None else int(d_model)
        ok, msg = _diagnose_11_2(arr, n, d, sinusoidal_table(n, d))
        return _report(ok, msg + ".")
    except Exception as err:  # nunca se deja escapar una excepción
        return _report(
            False,
            f"{name}: no se pudo comprobar la respuesta ({type(err).__name__}: {err}); se "
            "esperaba una función mi_codificacion(max_len, d_model) o un array (max_len, d_model).",
        )


def _diagnose_11_2(answer, max_len: int, d_model: int, expected: np.ndarray) -> tuple[bool, str]:
    name = "Ejercicio 11.2"
    if hasattr(answer, "detach"):
        answer = answer.detach().cpu().numpy()
    try:
        got = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
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


# ---------------------------------------------------------------------------
# Capítulo 5 (arquitectura): práctica sin número en el laboratorio
# ---------------------------------------------------------------------------

#: Datos de la práctica del capítulo 5 (dos secuencias con relleno a la derecha).
PRACTICA_CAP5 = {
    "ids": np.array([[5, 7, 9, 0, 0], [4, 6, 8, 3, 0]]),
    "pad_id": 0,
}


def _cap5_masks() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    ids, pad = PRACTICA_CAP5["ids"], PRACTICA_CAP5["pad_id"]
    T = ids.shape[1]
    causal = np.tril(np.ones((T, T), dtype=bool))  # (T, T)
    keys = (ids != pad)[:, None, :]  # (B, 1, T): la clave es real
    queries = (ids != pad)[:, :, None]  # (B, T, 1)
    correct = causal[None] & keys  # (B, T, T)
    mistakes = {
        "es la convención contraria (True = ignorar, como en torch.nn.MultiheadAttention); "
        "aquí True = puede atender": ~correct,
        "sólo es la máscara causal: falta quitar las claves de relleno": np.broadcast_to(
            causal, correct.shape
        ),
        "sólo es la máscara de relleno: falta la parte causal (no mirar el futuro)": (
            np.broadcast_to(keys, correct.shape)
        ),
        "la parte causal está traspuesta (triangular superior): la consulta i debe ver las "
        "claves j <= i": np.triu(np.ones((T, T), dtype=bool))[None] & keys,
        # Con relleno a la derecha, «causal y consultas» es lo mismo que «causal, claves y
        # consultas»: el error típico es enmascarar las consultas además de las claves.
        "enmascaraste las consultas de relleno además de las claves: las filas de relleno se "
        "quedan sin ninguna clave permitida (todo False) y la softmax de una fila así divide 0 "
        "entre 0 y da NaN; basta con quitar las claves de relleno (las columnas)": (
            causal[None] & keys & queries
        ),
    }
    return correct, mistakes


def check_cap5_mascara(respuesta) -> bool:
    """Comprueba la práctica del capítulo 5: la máscara de autoatención del decoder.

    Parameters
    ----------
    respuesta : array_like or torch.Tensor of bool
        Máscara para ``PRACTICA_CAP5["ids"]`` con ``True`` = puede atender: forma
        ``(B, T, T)`` o ``(B, 1, T, T)``. ``None`` = todavía no hay respuesta.

    Returns
    -------
    bool
        ``True`` si es correcta. Nunca lanza excepciones: explica el error.
    """
    name = "Práctica del capítulo 5"
    if respuesta is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    try:
        if hasattr(respuesta, "detach"):
            respuesta = respuesta.detach().cpu().numpy()
        got = np.asarray(respuesta)
    except Exception:  # noqa: BLE001 - la respuesta puede ser cualquier cosa
        return _report(False, f"{name}: no se pudo convertir la respuesta en un array.")
    correct, mistakes = _cap5_masks()
    B, T, _ = correct.shape
    if got.ndim == 4 and got.shape[1] == 1:
        got = got[:, 0]
    if got.shape != correct.shape:
        return _report(
            False,
            f"{name}: se esperaba una máscara (B, T, T) = {correct.shape} o (B, 1, T, T); "
            f"se recibió la forma {np.asarray(respuesta).shape}.",
        )
    if got.dtype != bool:
        if not np.isin(got, (0, 1)).all():
            return _report(
                False, f"{name}: la máscara debe ser booleana (o de ceros y unos); no lo es."
            )
        got = got.astype(bool)
    if np.array_equal(got, correct):
        return _report(
            True,
            f"{name}: correcto: causal y sin claves de relleno ({int(correct.sum())} de "
            f"{correct.size} pares consulta-clave permitidos).",
        )
    for message, wrong in mistakes.items():
        if np.array_equal(got, wrong):
            return _report(False, f"{name}: casi: {message}.")
    b, i, j = (int(v) for v in np.argwhere(got != correct)[0])
    return _report(
        False,
        f"{name}: la primera celda incorrecta es [b={b}, consulta={i}, clave={j}]: se esperaba "
        f"{bool(correct[b, i, j])} y se recibió {bool(got[b, i, j])}.",
    )


# ---------------------------------------------------------------------------
# Práctica del capítulo 6: generación voraz con caché KV, escrita a mano
# ---------------------------------------------------------------------------

#: Datos de la práctica del capítulo 6 (el *prompt* y cuántos tokens generar).
PRACTICA_CAP6 = {"prompt": [[3, 14, 15, 9, 2, 6]], "max_new_tokens": 12}


def modelo_cap6():
    """GPT diminuto y determinista de la práctica del capítulo 6 (vocabulario de 40 tokens).

    Los pesos se agrandan un poco respecto a la inicialización de GPT-2 para que
    la decodificación voraz no se quede repitiendo un único token.
    """
    import torch

    from labcode.gpt import GPT, GPTConfig

    g = torch.Generator().manual_seed(111)
    model = GPT(GPTConfig(vocab_size=40, n_positions=32, n_embd=32, n_layer=2, n_head=4))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.6)
    return model.eval()


def check_cap6_kv_cache(respuesta) -> bool:
    """Comprueba la práctica del capítulo 6: decodificación voraz con caché KV escrita a mano.

    Parameters
    ----------
    respuesta : torch.Tensor or array_like of int
        Secuencia ``(1, T + n)`` (el *prompt* seguido de los ``n`` tokens
        generados) para ``PRACTICA_CAP6`` y :func:`modelo_cap6`. ``None`` =
        todavía no hay respuesta.

    Returns
    -------
    bool
        ``True`` si coincide con ``modelo_cap6().generate(...)``. Nunca lanza
        excepciones: explica el error.
    """
    import torch

    name = "Práctica del capítulo 6"
    if respuesta is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    try:
        if hasattr(respuesta, "detach"):
            respuesta = respuesta.detach().cpu().numpy()
        got = np.asarray(respuesta)
        if got.dtype.kind not in "iu":
            whole = got.dtype.kind == "f" and np.all(np.isfinite(got))
            if not whole or np.any(got != np.round(got)):
                return _report(False, f"{name}: se esperaban identificadores de token enteros.")
            got = got.astype(np.int64)
    except Exception:  # noqa: BLE001 - la respuesta puede ser cualquier cosa
        return _report(False, f"{name}: no se pudo convertir la respuesta en un array de enteros.")
    prompt = torch.tensor(PRACTICA_CAP6["prompt"])
    n = PRACTICA_CAP6["max_new_tokens"]
    expected = modelo_cap6().generate(prompt, n).numpy()  # (1, T + n)
    T = prompt.shape[1]
    if got.ndim == 1:
        got = got[None]
    if got.shape == (1, n):
        if np.array_equal(got, expected[:, T:]):
            return _report(False, f"{name}: casi: son los {n} tokens nuevos, pero la respuesta "
                                  "debe empezar por el prompt (forma (1, T + n)).")
    if got.shape != expected.shape:
        return _report(
            False,
            f"{name}: se esperaba la forma {expected.shape} (prompt + {n} tokens); "
            f"se recibió {got.shape}.",
        )
    if not np.array_equal(got[:, :T], expected[:, :T]):
        return _report(False, f"{name}: la secuencia debe empezar por el prompt {expected[0, :T]}.")
    if np.array_equal(got, expected):
        return _report(
            True,
            f"{name} resuelto: tus {n} tokens coinciden con GPT.generate (caché KV incluida).",
        )
    first = int(np.argmax(got[0] != expected[0]))
    hint = ""
    if first == T:
        hint = (" Ya falla el primer token: ¿tomaste el argmax de los logits de la ÚLTIMA "
                "posición del prompt?")
    elif first == T + 1:
        hint = (" El primero está bien y el segundo no: ¿pasaste a forward_cached sólo el token "
                "nuevo y la caché devuelta en el paso anterior?")
    return _report(
        False,
        f"{name}: el token {first} (contando el prompt) debería ser {int(expected[0, first])} "
        f"y es {int(got[0, first])}.{hint}",
    )


def check_11_4(respuesta, y_true=None, y_pred=None) -> bool:
    """Comprueba el ejercicio 11.4: métricas de clasificación calculadas a mano.

    Parameters
    ----------
    respuesta:
        Diccionario con ``confusion_matrix`` (2x2, filas = clase verdadera,
        columnas = clase predicha), ``precision``, ``recall`` y ``f1`` de la clase
        positiva (y, opcionalmente, ``accuracy``), calculados por el lector a
        partir de ``y_true`` y ``y_pred``. ``None`` significa que todavía no hay
        respuesta.
    y_true, y_pred:
        Etiquetas verdaderas y predichas (0/1) con las que se calculó la respuesta.

    Returns
    -------
    bool
        ``True`` si todo coincide con :func:`labcode.sentiment.classification_metrics`.
        Nunca lanza excepciones: explica el error.
    """
    name = "Ejercicio 11.4"
    if respuesta is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not isinstance(respuesta, dict):
        return _report(False, f"{name}: se esperaba un diccionario con confusion_matrix, "
                              f"precision, recall y f1; se recibió {type(respuesta).__name__}.")
    try:
        from labcode.sentiment import classification_metrics

        expected = classification_metrics(list(y_true), list(y_pred))
    except Exception as exc:  # noqa: BLE001 - y_true/y_pred pueden ser cualquier cosa
        return _report(False, f"{name}: y_true/y_pred no son válidos ({exc}).")
    missing = [k for k in ("confusion_matrix", "precision", "recall", "f1") if k not in respuesta]
    if missing:
        return _report(False, f"{name}: faltan las claves {missing} en la respuesta.")
    try:
        cm = np.asarray(respuesta["confusion_matrix"], dtype=float)
    except Exception:  # noqa: BLE001
        return _report(False, f"{name}: confusion_matrix no se puede convertir en una matriz.")
    exp_cm = np.asarray(expected["confusion_matrix"], dtype=float)
    if cm.shape != (2, 2):
        return _report(False, f"{name}: confusion_matrix debe ser 2x2; se recibió {cm.shape}.")
    if not np.array_equal(cm, exp_cm):
        if np.array_equal(cm, exp_cm.T):
            return _report(False, f"{name}: la matriz de confusión está traspuesta: las filas "
                                  "deben ser la clase verdadera y las columnas la predicha.")
        return _report(False, f"{name}: la matriz de confusión debería ser "
                              f"{expected['confusion_matrix']}; se recibió "
                              f"{cm.astype(int).tolist()}.")
    keys = ["precision", "recall", "f1"] + (["accuracy"] if "accuracy" in respuesta else [])
    for key in keys:
        got, error = _number(name, respuesta, key)
        if error:
            return _report(False, error)
        if not np.isfinite(got) or abs(got - expected[key]) > 1e-6:
            hint = ""
            if not np.isfinite(got):
                hint = (" Con 0/0 (por ejemplo, sin predicciones positivas) la métrica se define "
                        "como 0.")
            if key == "precision" and abs(got - expected["recall"]) < 1e-6:
                hint = " ¿Intercambiaste precisión y exhaustividad (recall)?"
            return _report(False, f"{name}: {key} debería ser {expected[key]:.4f}; se recibió "
                                  f"{got:.4f}.{hint}")
    return _report(
        True,
        f"{name} resuelto: matriz de confusión, precisión ({expected['precision']:.3f}), "
        f"exhaustividad ({expected['recall']:.3f}) y F1 ({expected['f1']:.3f}) coinciden con "
        "evaluate().",
    )


# ---------------------------------------------------------------------------
# Capítulo 8 (generación de texto): ejercicio 11.5, filtrado top-p (núcleo)
# ---------------------------------------------------------------------------


def _ex11_5_cases() -> list[tuple[str, object, float]]:
    """Casos de prueba del ejercicio 11.5: ``(descripción, logits (V,), p)``."""
    import torch

    g = torch.Generator().manual_seed(115)
    cases: list[tuple[str, object, float]] = []
    for i, p in enumerate((0.3, 0.5, 0.8, 0.9, 0.95)):
        logits = torch.randn(30 + 7 * i, generator=g, dtype=torch.float64) * (1 + i)
        cases.append((f"logits aleatorios (V={logits.numel()}), p={p}", logits, p))
    logits = torch.randn(25, generator=g, dtype=torch.float64) * 2
    cases.append(("p=1 (la distribución no cambia)", logits, 1.0))
    peaked = torch.tensor([0.0, 12.0, 1.0, -3.0, 0.5], dtype=torch.float64)
    cases.append(("distribución muy concentrada, p=0.9", peaked, 0.9))
    cases.append(("distribución muy concentrada, p=0.05", peaked, 0.05))
    flat = torch.zeros(8, dtype=torch.float64) + torch.arange(8, dtype=torch.float64) * 1e-3
    cases.append(("distribución casi uniforme, p=0.5", flat, 0.5))
    return cases


def check_11_5(fn) -> bool:
    """Ejercicio 11.5: ``fn(logits, p)`` debe devolver la distribución top-p.

    Se compara con :func:`labcode.generation.top_p_filter` en varios casos
    aleatorios y en casos límite (``p = 1``, distribuciones muy concentradas o
    casi uniformes). ``logits`` es un tensor 1-D de ``torch.float64``.

    Returns
    -------
    bool
        ``True`` si todos los casos coinciden (tolerancia 1e-6). Nunca lanza
        excepciones: explica qué falló.
    """
    import torch

    from labcode.generation import top_p_filter

    name = "Ejercicio 11.5"
    if fn is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not callable(fn):
        return _report(
            False,
            f"{name}: se esperaba una función mi_top_p(logits, p); se recibió "
            f"{type(fn).__name__}.",
        )
    cases = _ex11_5_cases()
    for desc, logits, p in cases:
        try:
            got = fn(logits.clone(), p)
        except Exception as exc:  # noqa: BLE001 - el código del lector puede fallar como sea
            return _report(False, f"{name} ({desc}): tu función lanzó {type(exc).__name__}: {exc}")
        if hasattr(got, "detach"):
            got = got.detach().cpu().numpy()
        expected = top_p_filter(logits, p).numpy()
        ok, msg = _compare_arrays(f"{name} ({desc})", got, expected, atol=1e-6)
        if ok:
            continue
        hint = ""
        try:
            arr = np.asarray(got, dtype=float)
            probs = torch.softmax(logits, dim=-1).numpy()
            kept = expected > 0
            if arr.shape == expected.shape:
                if np.allclose(arr, np.where(kept, probs, 0.0), atol=1e-6):
                    hint = " Pista: falta renormalizar (dividir por la suma de lo conservado)."
                elif np.all(arr[~kept] == 0) and np.sum(arr > 0) < np.sum(kept):
                    hint = (" Pista: te falta el token que hace que la suma acumulada alcance p "
                            "(hay que incluirlo; y al menos el más probable siempre).")
                elif np.all(arr > 0):
                    hint = " Pista: no has quitado ningún token (fuera del núcleo deben ser 0)."
                elif np.sum(arr > 0) > np.sum(kept):
                    hint = " Pista: conservas demasiados tokens: ¿ordenaste de mayor a menor?"
                elif not np.isclose(arr.sum(), 1):
                    hint = " Pista: la salida debe ser una distribución que sume 1."
        except Exception:  # noqa: BLE001
            pass
        return _report(False, msg + hint)
    return _report(
        True,
        f"{name} resuelto: tu mi_top_p coincide con la referencia en los {len(cases)} casos "
        "(aleatorios, p=1 y distribuciones concentradas o casi uniformes).",
    )


# ---------------------------------------------------------------------------
# Capítulo 10: Transformers frente a RNN
# ---------------------------------------------------------------------------

#: Datos de la práctica del capítulo 10 (longitud y dimensión de una capa).
PRACTICA_CAP10 = {"n": 512, "d": 64}


def _cap10_expected(n: int, d: int) -> dict[str, int]:
    return {
        "secuenciales_rnn": n,
        "camino_rnn": n,
        "secuenciales_atencion": 1,
        "camino_atencion": 1,
        "n_igual_coste": d,
    }


def check_cap10_complejidad(respuesta, n: int | None = None, d: int | None = None) -> bool:
    """Comprueba la práctica del capítulo 10: pasos secuenciales, caminos y coste igual.

    Parameters
    ----------
    respuesta : dict
        Claves ``secuenciales_rnn``, ``camino_rnn``, ``secuenciales_atencion``,
        ``camino_atencion`` (para ``n`` *tokens*) y ``n_igual_coste`` (la longitud
        a la que ``n² d`` y ``n d²`` coinciden). ``None`` = todavía no hay respuesta.
    n, d : int, opcional
        Por defecto, los de ``PRACTICA_CAP10``.

    Returns
    -------
    bool
        ``True`` si todo es correcto. Nunca lanza excepciones.
    """
    name = "Práctica del capítulo 10"
    if respuesta is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    n = PRACTICA_CAP10["n"] if n is None else n
    d = PRACTICA_CAP10["d"] if d is None else d
    if not isinstance(respuesta, dict):
        return _report(False, f"{name}: se esperaba un dict; se recibió "
                              f"{type(respuesta).__name__}.")
    expected = _cap10_expected(n, d)
    missing = [k for k in expected if k not in respuesta]
    if missing:
        return _report(False, f"{name}: faltan las claves {missing}.")
    hints = {
        "secuenciales_rnn": "una RNN debe procesar los n tokens uno detrás de otro",
        "camino_rnn": "la información del primer token atraviesa todas las actualizaciones "
                      "del estado hasta el último",
        "secuenciales_atencion": "todas las posiciones se calculan a la vez (no depende de n)",
        "camino_atencion": "cada salida mira directamente a todas las posiciones",
        "n_igual_coste": "iguala n²·d con n·d² y despeja n",
    }
    for key, value in expected.items():
        got, error = _number(name, respuesta, key)
        if error:
            return _report(False, error)
        if got != value:
            return _report(False, f"{name}: {key} no es correcto ({got:g}); pista: "
                                  f"{hints[key]}.")
    return _report(True, f"{name} resuelto: con n = {n}, la RNN necesita {n} pasos "
                         f"encadenados y la atención 1; el coste por capa coincide en n = {d}.")


def check_cap11_patches(respuesta) -> bool:
    """Capítulo 11: parches, longitud de secuencia y parámetros de la proyección de ViT-B/16.

    ``respuesta`` es un dict con ``num_patches``, ``seq_len`` (con el ``[CLS]``) y
    ``patch_params`` (pesos + sesgos de la proyección de parches) para imágenes
    224x224x3, parches 16x16 y ``d_model = 768``. Nunca lanza excepciones.
    """
    name = "Ejercicio 11 (parches de ViT-B/16)"
    if respuesta is None:
        return _report(False, f"{name}: todavía no hay respuesta.")
    if not isinstance(respuesta, dict):
        return _report(False, f"{name}: se esperaba un dict con las claves num_patches, seq_len "
                              f"y patch_params; se recibió {type(respuesta).__name__}.")
    expected = {"num_patches": (224 // 16) ** 2, "seq_len": (224 // 16) ** 2 + 1,
                "patch_params": 16 * 16 * 3 * 768 + 768}
    hints = {
        "num_patches": "hay 224/16 = 14 parches por lado.",
        "seq_len": "no olvides el token [CLS].",
        "patch_params": "cada parche aplanado tiene 16·16·3 valores; suma también los sesgos.",
    }
    for key, value in expected.items():
        if key not in respuesta:
            return _report(False, f"{name}: falta la clave {key!r}.")
        got, error = _number(name, respuesta, key, int)
        if error:
            return _report(False, error)
        if got != value:
            return _report(False, f"{name}: {key} no es correcto (se recibió {got}); pista: "
                                  f"{hints[key]}")
    return _report(True, f"{name} resuelto: {expected['num_patches']} parches, secuencia de "
                         f"{expected['seq_len']} tokens y "
                         f"{expected['patch_params']:_} ".replace("_", " ")
                         + "parámetros en la proyección de parches.")


def check_cap9_cabeza_anterior(respuesta, maps) -> bool:
    """Capítulo 9: la cabeza que más atiende al *token* anterior.

    Parameters
    ----------
    respuesta : tuple of int
        ``(capa, cabeza)``. ``None`` = todavía no hay respuesta.
    maps : labcode.viz.AttentionMaps
        Los pesos de atención sobre los que se busca.

    Returns
    -------
    bool
        ``True`` si ``respuesta`` es la cabeza con mayor atención media al *token*
        anterior (``labcode.viz.head_statistics``). Nunca lanza excepciones.
    """
    from labcode.viz import AttentionMaps, head_statistics

    name = "Ejercicio del capítulo 9 (cabeza de token anterior)"
    if respuesta is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not isinstance(maps, AttentionMaps):
        return _report(False, f"{name}: maps debe ser un labcode.viz.AttentionMaps; se recibió "
                              f"{type(maps).__name__}.")
    try:
        capa, cabeza = (int(v) for v in respuesta)
    except (TypeError, ValueError):
        return _report(False, f"{name}: se esperaba una pareja (capa, cabeza) de enteros; se "
                              f"recibió {respuesta!r}.")
    prev = head_statistics(maps)["previous"]  # (L, H)
    L, H = prev.shape
    if not (0 <= capa < L and 0 <= cabeza < H):
        return _report(False, f"{name}: (capa, cabeza) fuera de rango; hay {L} capas y {H} "
                              "cabezas (índices desde 0).")
    best = np.unravel_index(prev.argmax(), prev.shape)
    if (capa, cabeza) != (int(best[0]), int(best[1])):
        return _report(False, f"{name}: la cabeza ({capa}, {cabeza}) atiende al token anterior "
                              f"con {prev[capa, cabeza]:.3f} de media, pero hay otra con más. "
                              "Pista: busca el máximo de head_statistics(maps)['previous'].")
    return _report(True, f"{name} resuelto: capa {capa}, cabeza {cabeza}, con "
                         f"{prev[capa, cabeza]:.2f} de la atención al token anterior.")
