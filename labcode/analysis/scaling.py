"""Leyes de escala (*scaling laws*) de los modelos de lenguaje: Kaplan (2020) y Chinchilla (2022).

Dos ajustes empíricos muy citados de cómo baja la pérdida de entropía cruzada
(en nats por *token*) al crecer el modelo y los datos:

- Kaplan et al. (2020), «Scaling Laws for Neural Language Models»: leyes de
  potencia separadas en el número de parámetros sin *embeddings* ``N``, el de
  *tokens* de entrenamiento ``D`` y el cómputo ``C`` (en PF-días), cada una
  cuando las otras dos no limitan: ``L(X) = (X_c / X)^α_X``.
- Hoffmann et al. (2022), «Training Compute-Optimal Large Language Models»
  (Chinchilla): una sola superficie ``L(N, D) = E + A/N^α + B/D^β`` (ajuste de su
  «enfoque 3»), de la que sale el reparto óptimo de un presupuesto
  ``C ≈ 6·N·D`` FLOPs entre parámetros y datos.

Las constantes son las publicadas en los artículos; sólo valen para sus
tokenizadores, datos y arquitecturas (las pérdidas no se pueden comparar
entre modelos con tokenizadores distintos).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "CHINCHILLA",
    "FLOPS_PER_PF_DAY",
    "KAPLAN",
    "ChinchillaLaw",
    "KaplanLaws",
    "chinchilla_loss",
    "compute_optimal",
    "format_si",
    "kaplan_loss_compute",
    "kaplan_loss_data",
    "kaplan_loss_params",
    "kaplan_optimal_params",
    "log_log_slope",
    "training_flops",
    "twenty_tokens_rule",
]

#: FLOPs de un PF-día (10^15 operaciones por segundo durante 86 400 s).
FLOPS_PER_PF_DAY = 1e15 * 86_400


@dataclass(frozen=True)
class KaplanLaws:
    """Constantes de Kaplan et al. (2020), ecuaciones 1.1-1.3 (pérdida en nats).

    Attributes
    ----------
    alpha_n, n_c:
        ``L(N) = (N_c / N)^α_N``, con ``N`` parámetros sin *embeddings*.
    alpha_d, d_c:
        ``L(D) = (D_c / D)^α_D``, con ``D`` *tokens*.
    alpha_c, c_c:
        ``L(C_min) = (C_c / C_min)^α_C``, con ``C_min`` en PF-días.
    n_exponent:
        Exponente del tamaño óptimo ``N_opt ∝ C_min^0.73``.
    """

    alpha_n: float = 0.076
    n_c: float = 8.8e13
    alpha_d: float = 0.095
    d_c: float = 5.4e13
    alpha_c: float = 0.050
    c_c: float = 3.1e8
    n_exponent: float = 0.73


@dataclass(frozen=True)
class ChinchillaLaw:
    """Constantes del ajuste paramétrico de Hoffmann et al. (2022), ecuación 10.

    ``L(N, D) = E + A / N^α + B / D^β`` (pérdida en nats, ``N`` parámetros
    totales, ``D`` *tokens*).
    """

    e: float = 1.69
    a: float = 406.4
    b: float = 410.7
    alpha: float = 0.34
    beta: float = 0.28


KAPLAN = KaplanLaws()
CHINCHILLA = ChinchillaLaw()


def _positive(name: str, x: Any) -> np.ndarray:
    """Array de valores finitos > 0, o ``ValueError``/``TypeError`` claro."""
    if isinstance(x, bool):
        raise LabcodeTypeError(f"{name} debe ser numérico; se recibió un booleano.")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise LabcodeTypeError(
            f"{name} debe ser numérico; se recibió {type(x).__name__}."
        ) from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise LabcodeValueError(
            f"{name} debe ser (un array de) números finitos > 0; se recibió {x!r}."
        )
    return arr


def _out(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if arr.ndim == 0 else arr


def kaplan_loss_params(n: Any, law: KaplanLaws = KAPLAN) -> float | np.ndarray:
    """``L(N) = (N_c / N)^α_N``: pérdida con ``N`` parámetros sin *embeddings* y datos de sobra."""
    return _out((law.n_c / _positive("n", n)) ** law.alpha_n)


def kaplan_loss_data(d: Any, law: KaplanLaws = KAPLAN) -> float | np.ndarray:
    """``L(D) = (D_c / D)^α_D``: pérdida con ``D`` *tokens* y un modelo grande (parada temprana)."""
    return _out((law.d_c / _positive("d", d)) ** law.alpha_d)


def kaplan_loss_compute(c_pf_days: Any, law: KaplanLaws = KAPLAN) -> float | np.ndarray:
    """``L(C_min) = (C_c / C_min)^α_C``: pérdida con el mejor reparto de ``C_min`` PF-días."""
    return _out((law.c_c / _positive("c_pf_days", c_pf_days)) ** law.alpha_c)


def chinchilla_loss(n: Any, d: Any, law: ChinchillaLaw = CHINCHILLA) -> float | np.ndarray:
    """``L(N, D) = E + A/N^α + B/D^β`` (Hoffmann et al., 2022), difundiendo ``n`` y ``d``."""
    n_arr, d_arr = _positive("n", n), _positive("d", d)
    return _out(law.e + law.a / n_arr**law.alpha + law.b / d_arr**law.beta)


def training_flops(n: Any, d: Any) -> float | np.ndarray:
    """Cómputo de entrenamiento aproximado ``C ≈ 6·N·D`` FLOPs.

    Cada parámetro hace unas 2 operaciones por *token* hacia delante y unas 4
    hacia atrás (Kaplan et al., 2020, sección 2.1).
    """
    return _out(6.0 * _positive("n", n) * _positive("d", d))


def compute_optimal(c_flops: Any, law: ChinchillaLaw = CHINCHILLA) -> dict[str, Any]:
    """Reparto que minimiza ``L(N, D)`` de Chinchilla con ``6·N·D = C``.

    Con la restricción, ``L(N) = E + A/N^α + B/(C/(6N))^β``; al anular la
    derivada sale ``N_opt = G·(C/6)^a`` y ``D_opt = (C/6)^b / G`` con
    ``G = (αA / (βB))^(1/(α+β))``, ``a = β/(α+β)`` y ``b = α/(α+β)``
    (Hoffmann et al., 2022, ecuación 4 y apéndice D.2).

    Returns
    -------
    dict
        ``n``, ``d``, ``tokens_per_param`` (``d / n``), ``loss`` y los
        exponentes ``a`` y ``b`` (arrays si ``c_flops`` lo es).
    """
    c = _positive("c_flops", c_flops)
    s = law.alpha + law.beta
    g = (law.alpha * law.a / (law.beta * law.b)) ** (1.0 / s)
    a, b = law.beta / s, law.alpha / s
    n_opt = g * (c / 6.0) ** a
    d_opt = (c / 6.0) ** b / g
    return {
        "n": _out(n_opt),
        "d": _out(d_opt),
        "tokens_per_param": _out(d_opt / n_opt),
        "loss": chinchilla_loss(n_opt, d_opt, law),
        "a": a,
        "b": b,
    }


def twenty_tokens_rule(c_flops: Any, tokens_per_param: float = 20.0) -> dict[str, Any]:
    """Regla práctica de Chinchilla: ``D = 20·N`` y ``C = 6·N·D``, luego ``N = √(C / 120)``.

    Es lo que dan los enfoques 1 y 2 de Hoffmann et al. (2022) (``N`` y ``D``
    crecen como ``C^0.5``); Chinchilla (70 000 M de parámetros, 1,4 billones de
    *tokens*) está en ella.

    Returns
    -------
    dict
        ``n`` y ``d``.
    """
    c = _positive("c_flops", c_flops)
    r = float(_positive("tokens_per_param", tokens_per_param))
    n = np.sqrt(c / (6.0 * r))
    return {"n": _out(n), "d": _out(r * n)}


def kaplan_optimal_params(c_flops: Any, reference: tuple[float, float] | None = None) -> Any:
    """Tamaño óptimo según Kaplan, ``N_opt ∝ C^0.73``, anclado en un punto de referencia.

    Kaplan et al. (2020) publican la pendiente; para dibujarla hace falta un
    punto de paso: por defecto, el de Chinchilla (``C`` y ``N`` de la regla de 20
    *tokens* por parámetro a ``5,76·10²³`` FLOPs), para comparar **pendientes**.
    """
    c = _positive("c_flops", c_flops)
    if reference is None:
        c0 = 5.76e23
        reference = (c0, float(twenty_tokens_rule(c0)["n"]))
    c0, n0 = reference
    return _out(n0 * (c / c0) ** KAPLAN.n_exponent)


def log_log_slope(x: Any, y: Any) -> float:
    """Pendiente del ajuste por mínimos cuadrados de ``log y`` frente a ``log x``.

    Raises
    ------
    ValueError
        Si hay menos de dos puntos, longitudes distintas o valores no positivos.
    """
    xa, ya = _positive("x", x).ravel(), _positive("y", y).ravel()
    if xa.size != ya.size or xa.size < 2:
        raise LabcodeValueError(
            f"x e y deben tener la misma longitud (>= 2); se recibió {xa.size} y {ya.size}."
        )
    return float(np.polyfit(np.log(xa), np.log(ya), 1)[0])


def format_si(x: float, unit: str = "") -> str:
    """Formato compacto con prefijos del SI: ``format_si(7e10) == '70 G'``."""
    x = float(x)
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:.3g} {prefix}{unit}".strip()
    return f"{x:.3g} {unit}".strip()


