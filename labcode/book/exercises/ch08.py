"""Capítulo 8 (generación de texto): práctica del filtrado top-p y ejercicio 11.5, medir
la coherencia de un texto generado."""

from __future__ import annotations

import numpy as np

from labcode.book.exercises._common import compare_arrays, never_raises, plain, report


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


@never_raises("Práctica del capítulo 8")
def check_ch8_top_p(fn) -> bool:
    """Práctica del capítulo 8: ``fn(logits, p)`` debe devolver la distribución top-p.

    Se compara con :func:`labcode.sampling.top_p_filter` en varios casos
    aleatorios y en casos límite (``p = 1``, distribuciones muy concentradas o
    casi uniformes). ``logits`` es un tensor 1-D de ``torch.float64``.

    Returns
    -------
    bool
        ``True`` si todos los casos coinciden (tolerancia 1e-6). Nunca lanza
        excepciones: explica qué falló.
    """
    from labcode.hf.generation import top_p_filter

    name = "Top-p a mano"
    if fn is None:
        return report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not callable(fn):
        return report(
            False,
            f"{name}: se esperaba una función mi_top_p(logits, p); se recibió "
            f"{type(fn).__name__}.",
        )
    cases = _top_p_cases()
    for desc, logits, p in cases:
        try:
            got = fn(logits.clone(), p)
        except Exception as exc:  # noqa: BLE001 - el código del lector puede fallar como sea
            return report(False, f"{name} ({desc}): tu función lanzó {type(exc).__name__}: {exc}")
        expected = top_p_filter(logits, p).numpy()
        ok, msg = compare_arrays(f"{name} ({desc})", got, expected, atol=1e-6)
        if ok:
            continue
        hint = _top_p_hint(got, logits, expected)
        return report(False, msg + hint)
    return report(
        True,
        f"{name} resuelto: tu mi_top_p coincide con la referencia en los {len(cases)} casos "
        "(aleatorios, p=1 y distribuciones concentradas o casi uniformes).",
    )



def _top_p_hint(got, logits, expected: np.ndarray) -> str:
    """Pista para una distribución top-p incorrecta de la misma forma ("" si no hay)."""
    import torch

    try:
        arr = np.asarray(plain(got), dtype=float)
    except Exception:  # noqa: BLE001 - la respuesta puede ser cualquier cosa
        return ""
    if arr.shape != expected.shape:
        return ""
    probs = torch.softmax(logits, dim=-1).numpy()
    kept = expected > 0
    if np.allclose(arr, np.where(kept, probs, 0.0), atol=1e-6):
        return " Pista: falta renormalizar (dividir por la suma de lo conservado)."
    if np.all(arr[~kept] == 0) and np.sum(arr > 0) < np.sum(kept):
        return (" Pista: te falta el token que hace que la suma acumulada alcance p "
                "(hay que incluirlo; y al menos el más probable siempre).")
    if np.all(arr > 0):
        return " Pista: no has quitado ningún token (fuera del núcleo deben ser 0)."
    if np.sum(arr > 0) > np.sum(kept):
        return " Pista: conservas demasiados tokens: ¿ordenaste de mayor a menor?"
    if not np.isclose(arr.sum(), 1):
        return " Pista: la salida debe ser una distribución que sume 1."
    return ""


#: Funciones que pide el ejercicio 11.5, con la referencia de labcode.hf.generation.
_FUNCTIONS_11_5 = {"distinct_n": "distinct_n", "repeated": "repeated_ngram_share",
                   "perplexity": "perplexity_from_logprobs"}


def _cases_11_5() -> dict[str, list[tuple]]:
    texts = ["el gato come pan y el gato come queso".split(),
             "a b a b a b".split(), "uno dos tres".split(), ["hola"],
             list("abracadabra")]
    ngram_cases = [(t, n) for t in texts for n in (1, 2, 3)]
    logprob_cases = [([-1.0, -2.0, -0.5],), ([-0.1] * 10,), ([0.0],), ([-3.2, -0.7],)]
    return {"distinct_n": ngram_cases, "repeated": ngram_cases, "perplexity": logprob_cases}


def _hint_11_5(key: str, fn, args) -> str:
    from labcode.hf import generation as g

    if key == "perplexity":
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
            wrong.pop(next(iter(wrong)))  # «1 - distinct_n» solo tiene sentido en repeated
    try:
        got = float(fn(*args))
    except Exception:  # noqa: BLE001
        return ""
    for message, value in wrong.items():
        if abs(got - float(value)) < 1e-9:
            return f" Diagnóstico: {message}."
    return ""


@never_raises("Ejercicio 11.5")
def check_11_5(functions) -> bool:
    """Ejercicio 11.5: comprueba tus medidas de coherencia con entradas fijas.

    Parameters
    ----------
    functions : dict
        ``{"distinct_n": f(tokens, n), "repeated": g(tokens, n),
        "perplexity": h(logprobs)}``; se comparan (tolerancia ``1e-9``) con
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
    if functions is None:
        return report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not isinstance(functions, dict):
        return report(False, f"{name}: se esperaba un diccionario con las claves "
                              f"{sorted(_FUNCTIONS_11_5)}; se recibió {type(functions).__name__}.")
    missing = [k for k in _FUNCTIONS_11_5 if not callable(functions.get(k))]
    if missing:
        return report(False, f"{name}: faltan (o no son functions) {missing}.")
    all_ok = True
    for key, cases in _cases_11_5().items():
        reference = getattr(g, _FUNCTIONS_11_5[key])
        for args in cases:
            expected = reference(*args)
            try:
                got = float(functions[key](*args))
            except Exception as exc:  # noqa: BLE001 - el código del lector puede fallar
                got, error = None, f"lanzó {type(exc).__name__}: {exc}"
            else:
                error = None if abs(got - expected) <= 1e-9 else (
                    f"devolvió {got:.6g} y debía ser {expected:.6g}")
            if error is not None:
                shown = ", ".join(repr(a) for a in args)
                print(f"❌ {key}({shown}): {error}.{_hint_11_5(key, functions[key], args)}")
                all_ok = False
                break
        else:
            print(f"✅ {key}: coincide con la referencia en {len(cases)} casos.")
    if all_ok:
        return report(True, f"{name} resuelto: tus tres medidas coinciden con las de referencia.")
    return report(False, f"{name}: todavía no es correcto; revisa los mensajes de arriba.")
