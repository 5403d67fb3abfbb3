"""Comprobaciones de los ejercicios del libro.

Cada función ``check_11_X`` recibe la respuesta del lector, la compara con la
solución calculada por ``labcode`` y escribe un mensaje en español. Devuelve
``True`` si la respuesta es correcta y ``False`` si no (o si aún no hay
respuesta: ``None``). Nunca lanza una excepción por una respuesta mal formada:
explica qué se esperaba.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def _report(ok: bool, message: str) -> bool:
    print(("✅ " if ok else "❌ ") + message)
    return ok


def _plain(x, depth: int = 0):
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
        return {k: _plain(v, depth + 1) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(_plain(v, depth + 1) for v in x)
    return x


def _never_raises(name: str):
    """Decorador: convierte la respuesta con ``_plain`` y, si la comprobación
    falla por una respuesta imprevista, lo explica en vez de lanzar una excepción."""

    def wrap(check):
        @functools.wraps(check)
        def run(*args, **kwargs):
            try:
                args = (_plain(args[0]), *args[1:]) if args else args
                return check(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - una comprobación nunca lanza
                return _report(False, f"{name}: no se pudo comprobar la respuesta "
                                      f"({type(err).__name__}: {err}).")

        return run

    return wrap


def _number(name: str, respuesta: dict, key: str, cast=float):
    """``(valor, None)``, o ``(None, mensaje)`` si ``respuesta[key]`` no es un número válido.

    Exacto: los textos (``"11"``) y los booleanos no son números; con
    ``cast=int`` el valor debe ser entero (``196.0`` vale, ``196.9`` no); NaN e
    infinitos se rechazan. Los tensores y arrays de un solo elemento se convierten
    (``detach``, ``cpu``, ``numpy``). Nunca lanza excepciones.
    """
    kind = "un entero" if cast is int else "un número"
    raw = respuesta[key]
    try:
        value = _plain(raw)
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


def _numeric_array(answer) -> np.ndarray | None:
    """Array ``float`` de una respuesta numérica, o ``None`` (textos, objetos...)."""
    try:
        arr = np.asarray(_plain(answer))
        if arr.dtype.kind not in "iuf":
            return None
        return arr.astype(float)
    except Exception:  # noqa: BLE001
        return None


def _compare_arrays(name: str, answer, expected, atol: float = 1e-4) -> tuple[bool, str]:
    """Compara ``answer`` con ``expected`` (diferencia máxima ``<= atol``) y explica la
    diferencia. Nunca lanza excepciones."""
    if answer is None:
        return False, f"{name}: todavía no hay respuesta (el valor es None)."
    got = _numeric_array(answer)
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


#: Tolerancias del ejercicio 11.1, pensadas para quien redondea cada paso a dos decimales.
#: Los pesos redondeados se equivocan en menos de 0,01; la salida multiplica esos pesos
#: por V (valores de hasta 3), así que su error puede llegar a 3 · 3 · 0,005 = 0,045.
TOLERANCIAS_11_1 = {"pesos": 0.01, "salida": 0.05}


def _parts_11_1(respuesta, n: int, d_v: int) -> tuple[dict | None, str | None]:
    """Separa la respuesta del 11.1 en ``{"pesos": ..., "salida": ...}`` o explica el problema.

    Si es la tupla ``(pesos, salida)`` (orden cambiado), devuelve las partes en su
    sitio y un aviso que hace fallar el ejercicio.
    """
    if isinstance(respuesta, dict):
        parts = {key: respuesta[key] for key in ("pesos", "salida") if key in respuesta}
        if not parts:
            return None, ("el diccionario debe tener la clave 'pesos' y/o 'salida'; se "
                          f"recibieron las claves {sorted(map(str, respuesta))}.")
        return parts, None
    if isinstance(respuesta, tuple):
        if len(respuesta) != 2:
            return None, ("se esperaba la tupla (salida, pesos); se recibió una tupla de "
                          f"{len(respuesta)} elementos.")
        shapes = [np.shape(x) if not isinstance(x, str) else None for x in respuesta]
        if shapes == [(n, n), (n, d_v)]:
            return {"salida": respuesta[1], "pesos": respuesta[0]}, (
                "orden: devolviste (pesos, salida), pero el orden es (salida, pesos), el mismo "
                "que scaled_dot_product_attention. Abajo se comprueba cada parte en su sitio.")
        return {"salida": respuesta[0], "pesos": respuesta[1]}, None
    arr = _numeric_array(respuesta)
    if arr is None:
        return None, "no se pudo convertir la respuesta en un array numérico."
    if arr.shape == (n, n):
        return {"pesos": arr}, None
    if arr.shape == (n, d_v):
        return {"salida": arr}, None
    return None, (f"se esperaba la matriz de pesos {(n, n)} o la salida {(n, d_v)}; se "
                  f"recibió la forma {arr.shape}.")


def _check_part_11_1(name, answer, expected, mistakes, atol, n) -> tuple[bool, str]:
    ok, message = _compare_arrays(name, answer, expected, atol=atol)
    if ok or answer is None:
        return ok, message
    got = _numeric_array(answer)
    if got is None:
        return ok, message
    if got.shape == expected.shape and np.isfinite(got).all():
        hint = _diagnose(name, got, mistakes, atol)
        if hint is not None:
            return ok, hint
        if name == "pesos" and not np.allclose(got.sum(axis=1), 1.0, atol=atol):
            sums = np.round(got.sum(axis=1), 3).tolist()
            return ok, (f"pesos: cada fila debe sumar 1 (es una softmax); las sumas de tus filas "
                        f"son {sums}.")
    elif name == "salida" and got.shape == (n, n):
        return ok, "salida: tiene forma (3, 3): ¿olvidaste multiplicar los pesos por V?"
    return ok, message


@_never_raises("Ejercicio 11.1")
def check_11_1(respuesta, atol: float | None = None) -> bool:
    """Comprueba el ejercicio 11.1 (autoatención a mano con ``EJERCICIO_11_1``).

    Parameters
    ----------
    respuesta : array_like, tuple or dict
        Cualquiera de estas formas:

        - la matriz de pesos de atención ``(3, 3)`` (filas = consultas);
        - la salida ``(3, 2)`` (``pesos @ V``);
        - la tupla ``(salida, pesos)`` (el orden de ``scaled_dot_product_attention``;
          si llega al revés, ``(pesos, salida)``, lo dice);
        - un diccionario ``{"pesos": ..., "salida": ...}`` con una o ambas claves.

        ``None`` significa «todavía no hay respuesta».
    atol : float, optional
        Tolerancia común. Por defecto, :data:`TOLERANCIAS_11_1`: con dos decimales
        en cada paso basta (0,01 en los pesos y 0,05 en la salida).

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
    parts, problem = _parts_11_1(respuesta, n, d_v)
    if parts is None:
        return _report(False, f"Ejercicio 11.1: {problem}")
    all_ok = problem is None
    if problem is not None:
        print("❌ " + problem)
    for name in ("pesos", "salida"):
        if name in parts:
            tol = TOLERANCIAS_11_1[name] if atol is None else atol
            ok, message = _check_part_11_1(name, parts[name], expected[name], mistakes[name],
                                           tol, n)
            print(("✅ " if ok else "❌ ") + message)
            all_ok = all_ok and ok
    if all_ok:
        return _report(True, "Ejercicio 11.1 resuelto: ¡la atención calculada a mano es correcta!")
    return _report(False, "Ejercicio 11.1: todavía no es correcto; revisa los mensajes de arriba.")


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
    w = _softmax_rows(s, axis=axis)  # (B, h, n, n)
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
    got = _numeric_array(result)
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


@_never_raises("Ejercicio 11.3")
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
        return _report(False, f"{title}: todavía no hay respuesta (el valor es None).")
    if not callable(fn):
        return _report(
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
            return _report(False, problem)
        if got.shape != expected.shape:
            hint = _shape_hint_11_3(got.shape, batch, num_heads, n, d_model // num_heads)
            return _report(False, f"{title}: se esperaba una salida de forma {expected.shape} "
                                  f"{where}; se recibió {got.shape}.{hint}")
        if not np.all(np.isfinite(got)):
            return _report(False, f"{title}: la salida contiene NaN o infinitos {where}.")
        err = float(np.max(np.abs(got - expected)))
        if err > 1e-6:
            hint = _values_hint_11_3(got, x, weights, num_heads, first_config=i == 0)
            return _report(False, f"{title}: la forma es correcta pero los valores no {where}: "
                                  f"diferencia máxima {err:.3g} (> 1e-06).{hint}")
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


@_never_raises("Ejercicio 11.2")
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
    from labcode.numpy_ref.positional import sinusoidal_table

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
        arr = _numeric_array(answer)
        if arr is None:
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
    got = _numeric_array(answer)
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


@_never_raises("Práctica del capítulo 5")
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

    from labcode.models.gpt import GPT, GPTConfig

    g = torch.Generator().manual_seed(111)
    model = GPT(GPTConfig(vocab_size=40, n_positions=32, n_embd=32, n_layer=2, n_head=4))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.6)
    return model.eval()


@_never_raises("Práctica del capítulo 6")
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


@_never_raises("Práctica del capítulo 7")
def check_cap7_metricas(respuesta, y_true=None, y_pred=None) -> bool:
    """Práctica del capítulo 7: métricas de clasificación calculadas a mano.

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
        ``True`` si todo coincide con :func:`labcode.hf.sentiment.classification_metrics`.
        Nunca lanza excepciones: explica el error.
    """
    name = "Métricas a mano"
    if respuesta is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not isinstance(respuesta, dict):
        return _report(False, f"{name}: se esperaba un diccionario con confusion_matrix, "
                              f"precision, recall y f1; se recibió {type(respuesta).__name__}.")
    try:
        from labcode.hf.sentiment import classification_metrics

        expected = classification_metrics(list(y_true), list(y_pred))
    except Exception as exc:  # noqa: BLE001 - y_true/y_pred pueden ser cualquier cosa
        return _report(False, f"{name}: y_true/y_pred no son válidos ({exc}).")
    missing = [k for k in ("confusion_matrix", "precision", "recall", "f1") if k not in respuesta]
    if missing:
        return _report(False, f"{name}: faltan las claves {missing} en la respuesta.")
    cm = _numeric_array(respuesta["confusion_matrix"])
    if cm is None:
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
# Capítulo 8 (generación de texto): práctica del filtrado top-p (núcleo)
# ---------------------------------------------------------------------------


def _top_p_cases() -> list[tuple[str, object, float]]:
    """Casos de prueba del filtrado top-p: ``(descripción, logits (V,), p)``."""
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


@_never_raises("Práctica del capítulo 8")
def check_cap8_top_p(fn) -> bool:
    """Práctica del capítulo 8: ``fn(logits, p)`` debe devolver la distribución top-p.

    Se compara con :func:`labcode.hf.generation.top_p_filter` en varios casos
    aleatorios y en casos límite (``p = 1``, distribuciones muy concentradas o
    casi uniformes). ``logits`` es un tensor 1-D de ``torch.float64``.

    Returns
    -------
    bool
        ``True`` si todos los casos coinciden (tolerancia 1e-6). Nunca lanza
        excepciones: explica qué falló.
    """
    import torch

    from labcode.hf.generation import top_p_filter

    name = "Top-p a mano"
    if fn is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not callable(fn):
        return _report(
            False,
            f"{name}: se esperaba una función mi_top_p(logits, p); se recibió "
            f"{type(fn).__name__}.",
        )
    cases = _top_p_cases()
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


@_never_raises("Práctica del capítulo 10")
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
        got, error = _number(name, respuesta, key, int)
        if error:
            return _report(False, error)
        if got != value:
            return _report(False, f"{name}: {key} no es correcto ({got:g}); pista: "
                                  f"{hints[key]}.")
    return _report(True, f"{name} resuelto: con n = {n}, la RNN necesita {n} pasos "
                         f"encadenados y la atención 1; el coste por capa coincide en n = {d}.")


@_never_raises("Ejercicio 11 (parches de ViT-B/16)")
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


@_never_raises("Ejercicio del capítulo 9 (cabeza de token anterior)")
def check_cap9_cabeza_anterior(respuesta, maps) -> bool:
    """Capítulo 9: la cabeza que más atiende al *token* anterior.

    Parameters
    ----------
    respuesta : tuple of int
        ``(capa, cabeza)``. ``None`` = todavía no hay respuesta.
    maps : labcode.analysis.attention_maps.AttentionMaps
        Los pesos de atención sobre los que se busca.

    Returns
    -------
    bool
        ``True`` si ``respuesta`` es la cabeza con mayor atención media al *token*
        anterior (``labcode.analysis.attention_maps.head_statistics``). Nunca lanza excepciones.
    """
    from labcode.analysis.attention_maps import AttentionMaps, head_statistics

    name = "Ejercicio del capítulo 9 (cabeza de token anterior)"
    if respuesta is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not isinstance(maps, AttentionMaps):
        return _report(False, f"{name}: maps debe ser un labcode.analysis.attention_maps.AttentionMaps; se recibió "
                              f"{type(maps).__name__}.")
    pair = None
    if isinstance(respuesta, (tuple, list, np.ndarray)) and len(respuesta) == 2:
        parts = [_number(name, {"capa": respuesta[0]}, "capa", int),
                 _number(name, {"cabeza": respuesta[1]}, "cabeza", int)]
        if not any(error for _, error in parts):
            pair = tuple(value for value, _ in parts)
    if pair is None:
        return _report(False, f"{name}: se esperaba una pareja (capa, cabeza) de enteros; se "
                              f"recibió {respuesta!r}.")
    capa, cabeza = pair
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


# ---------------------------------------------------------------------------
# Capítulo 7: ejercicio 11.4, el bucle de ajuste fino escrito por el lector
# ---------------------------------------------------------------------------

#: Tamaño del ejercicio 11.4, que cabe en un par de minutos de CPU. ``min_accuracy`` sale
#: de ejecuciones medidas de la solución (ver el capítulo 7), con margen.
EJERCICIO_11_4 = {"n_train": 384, "n_val": 200, "batch_size": 16, "max_length": 40,
                  "epochs": 2, "seed": 0, "min_accuracy": 0.70}


def _batches_11_4(tokenizer, sentences, labels, batch_size, max_length) -> list[dict]:
    import torch

    out = []
    for i in range(0, len(sentences), batch_size):
        batch = tokenizer(list(sentences[i:i + batch_size]), padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt")
        batch["labels"] = torch.tensor(list(labels[i:i + batch_size]))
        out.append(dict(batch))
    return out


def datos_11_4() -> dict:
    """Modelo y lotes del ejercicio 11.4 (siempre los mismos, con semilla fija).

    Returns
    -------
    dict
        ``modelo``: el codificador del perfil (all-MiniLM-L6-v2 en ``quick``) con una
        cabeza de clasificación nueva; ``lotes_entrenamiento`` y ``lotes_validacion``:
        listas de diccionarios ``input_ids``, ``attention_mask``... y ``labels``, que se
        pasan tal cual al modelo (``modelo(**lote).loss``); ``num_pasos``: pasos que debe
        dar el bucle (``epochs`` vueltas a los lotes de entrenamiento).
    """
    import torch

    from labcode.hf import pretrained

    cfg = EJERCICIO_11_4
    train = pretrained.load_sst2("train", limit=cfg["n_train"])
    val = pretrained.load_sst2("validation", limit=cfg["n_val"])
    spec = pretrained.resolve_bert_model()
    tokenizer = pretrained.load_tokenizer(spec)
    torch.manual_seed(cfg["seed"])
    model = pretrained.load_bert_for_classification(spec, num_labels=2)
    args = (cfg["batch_size"], cfg["max_length"])
    train_batches = _batches_11_4(tokenizer, train["sentence"], train["label"], *args)
    return {
        "modelo": model,
        "lotes_entrenamiento": train_batches,
        "lotes_validacion": _batches_11_4(tokenizer, val["sentence"], val["label"], *args),
        "num_pasos": cfg["epochs"] * len(train_batches),
    }


def exactitud_11_4(model, batches) -> float:
    """Exactitud de referencia: ``argmax`` de los logits frente a ``labels``, sin gradientes."""
    import torch

    model.eval()
    hits = total = 0
    with torch.no_grad():
        for batch in batches:
            inputs = {k: v for k, v in batch.items() if k != "labels"}
            pred = model(**inputs).logits.argmax(dim=-1)
            hits += int((pred == batch["labels"]).sum())
            total += len(batch["labels"])
    return hits / total


def _run_student_11_4(entrenar, evaluar, data) -> tuple[float | None, str | None, bool]:
    """Ejecuta el bucle y la evaluación del lector: ``(exactitud, problema, pesos cambiados)``."""
    import torch

    model = data["modelo"]
    before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(EJERCICIO_11_4["seed"])  # el mismo dropout en cada comprobación
    try:
        entrenar(model, data["lotes_entrenamiento"], data["num_pasos"])
    except NotImplementedError:
        return None, "entrenar todavía no está implementado (lanza NotImplementedError).", False
    except Exception as exc:  # noqa: BLE001 - el error es del código del lector
        return None, f"entrenar lanzó {type(exc).__name__}: {exc}", False
    changed = any(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters(),
                                                                strict=True))
    try:
        got = evaluar(model, data["lotes_validacion"])
        got = float(got)
    except NotImplementedError:
        return None, "evaluar todavía no está implementado (lanza NotImplementedError).", changed
    except Exception as exc:  # noqa: BLE001
        return None, f"evaluar lanzó o devolvió algo no numérico ({type(exc).__name__}: {exc}).", \
            changed
    return got, None, changed


@_never_raises("Ejercicio 11.4")
def check_11_4(entrenar, evaluar, data: dict | None = None) -> bool:
    """Ejercicio 11.4: ¿aprende tu bucle de ajuste fino?

    Llama a ``entrenar(modelo, lotes_entrenamiento, num_pasos)`` (que debe ajustar
    ``modelo`` en el sitio) y a ``evaluar(modelo, lotes_validacion)`` (que debe
    devolver la exactitud entre 0 y 1) con los datos de :func:`datos_11_4`, y
    comprueba dos cosas: que tu evaluación coincide con :func:`exactitud_11_4` y
    que la exactitud de validación alcanza ``EJERCICIO_11_4["min_accuracy"]``.

    Parameters
    ----------
    entrenar, evaluar : callable
        Las funciones del lector.
    data : dict, optional
        Lo que devuelve :func:`datos_11_4` (por defecto se carga de nuevo: modelo
        recién creado con la misma semilla).

    Returns
    -------
    bool
        ``True`` si aprende y la evaluación es correcta. Nunca lanza excepciones.
    """
    name = "Ejercicio 11.4"
    if entrenar is None or evaluar is None:
        return _report(False, f"{name}: todavía no hay respuesta (entrenar o evaluar es None).")
    if not (callable(entrenar) and callable(evaluar)):
        return _report(False, f"{name}: entrenar y evaluar deben ser funciones.")
    data = datos_11_4() if data is None else data
    got, problem, changed = _run_student_11_4(entrenar, evaluar, data)
    if problem is not None:
        return _report(False, f"{name}: {problem}")
    if not changed:
        return _report(False, f"{name}: los pesos del modelo no cambiaron: ¿llamaste a "
                              "loss.backward() y optimizer.step() en cada paso?")
    acc = exactitud_11_4(data["modelo"], data["lotes_validacion"])
    minimum = EJERCICIO_11_4["min_accuracy"]
    if abs(got - acc) > 1e-6:
        hint = " (¿en porcentaje? se pide una proporción entre 0 y 1)" if got > 1 else ""
        return _report(False, f"{name}: tu evaluar devuelve {got:.4f}, pero la exactitud del "
                              f"modelo en esos lotes es {acc:.4f}{hint}. Revisa: model.eval(), "
                              "argmax sobre el último eje de los logits y dividir por el número "
                              "de frases, no de lotes.")
    if acc < minimum:
        return _report(False, f"{name}: tu bucle entrena, pero la exactitud de validación es "
                              f"{acc:.3f} (< {minimum}). Pistas: optimizer.zero_grad() en cada "
                              "paso, model.train() antes del bucle, lr entre 2e-5 y 1e-4 y "
                              "scheduler.step() tras optimizer.step().")
    return _report(True, f"{name} resuelto: tu bucle aprende (exactitud de validación {acc:.3f} "
                         f"≥ {minimum} tras {data['num_pasos']} pasos) y tu evaluación coincide "
                         "con la de referencia.")


# ---------------------------------------------------------------------------
# Capítulo 8: ejercicio 11.5, medir la coherencia de un texto generado
# ---------------------------------------------------------------------------

#: Funciones que pide el ejercicio 11.5, con la referencia de labcode.hf.generation.
_FUNCTIONS_11_5 = {"distinct_n": "distinct_n", "repetidos": "repeated_ngram_share",
                   "perplejidad": "perplexity_from_logprobs"}


def _cases_11_5() -> dict[str, list[tuple]]:
    texts = ["el gato come pan y el gato come queso".split(),
             "a b a b a b".split(), "uno dos tres".split(), ["hola"],
             list("abracadabra")]
    ngram_cases = [(t, n) for t in texts for n in (1, 2, 3)]
    logprob_cases = [([-1.0, -2.0, -0.5],), ([-0.1] * 10,), ([0.0],), ([-3.2, -0.7],)]
    return {"distinct_n": ngram_cases, "repetidos": ngram_cases, "perplejidad": logprob_cases}


def _hint_11_5(key: str, fn, args) -> str:
    from labcode.hf import generation as g

    if key == "perplejidad":
        lp = args[0]
        wrong = {"exp(media) sin el signo menos": np.exp(np.mean(lp)),
                 "la suma en lugar de la media": np.exp(-np.sum(lp)),
                 "base 2 (2 ** ...) en lugar de e": 2 ** (-np.mean(lp))}
    else:
        tokens, n = args
        grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        wrong = {"solo contaste las repeticiones a partir de la segunda aparición (eso es "
                 "1 - distinct_n)": 1 - g.distinct_n(tokens, n) if grams else 0.0,
                 "usaste palabras sueltas en lugar de n-gramas": g.distinct_n(tokens, 1)
                 if key == "distinct_n" else g.repeated_ngram_share(tokens, 1)}
        if key == "distinct_n":
            wrong.pop(next(iter(wrong)))  # «1 - distinct_n» solo tiene sentido en repetidos
    try:
        got = float(fn(*args))
    except Exception:  # noqa: BLE001
        return ""
    for message, value in wrong.items():
        if abs(got - float(value)) < 1e-9:
            return f" Diagnóstico: {message}."
    return ""


@_never_raises("Ejercicio 11.5")
def check_11_5(funciones) -> bool:
    """Ejercicio 11.5: comprueba tus medidas de coherencia con entradas fijas.

    Parameters
    ----------
    funciones : dict
        ``{"distinct_n": f(tokens, n), "repetidos": g(tokens, n),
        "perplejidad": h(logprobs)}``; se comparan (tolerancia ``1e-9``) con
        :func:`labcode.hf.generation.distinct_n`,
        :func:`labcode.hf.generation.repeated_ngram_share` y
        :func:`labcode.hf.generation.perplexity_from_logprobs` en textos con y sin
        repeticiones, textos más cortos que ``n`` y listas de log-probabilidades.

    Returns
    -------
    bool
        ``True`` si las tres coinciden en todos los casos. Nunca lanza excepciones.
    """
    from labcode.hf import generation as g

    name = "Ejercicio 11.5"
    if funciones is None:
        return _report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not isinstance(funciones, dict):
        return _report(False, f"{name}: se esperaba un diccionario con las claves "
                              f"{sorted(_FUNCTIONS_11_5)}; se recibió {type(funciones).__name__}.")
    missing = [k for k in _FUNCTIONS_11_5 if not callable(funciones.get(k))]
    if missing:
        return _report(False, f"{name}: faltan (o no son funciones) {missing}.")
    all_ok = True
    for key, cases in _cases_11_5().items():
        reference = getattr(g, _FUNCTIONS_11_5[key])
        for args in cases:
            expected = reference(*args)
            try:
                got = float(funciones[key](*args))
            except Exception as exc:  # noqa: BLE001 - el código del lector puede fallar
                got, error = None, f"lanzó {type(exc).__name__}: {exc}"
            else:
                error = None if abs(got - expected) <= 1e-9 else (
                    f"devolvió {got:.6g} y debía ser {expected:.6g}")
            if error is not None:
                shown = ", ".join(repr(a) for a in args)
                print(f"❌ {key}({shown}): {error}.{_hint_11_5(key, funciones[key], args)}")
                all_ok = False
                break
        else:
            print(f"✅ {key}: coincide con la referencia en {len(cases)} casos.")
    if all_ok:
        return _report(True, f"{name} resuelto: tus tres medidas coinciden con las de referencia.")
    return _report(False, f"{name}: todavía no es correcto; revisa los mensajes de arriba.")
