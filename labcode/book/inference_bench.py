"""Mediciones del capítulo «Inferencia eficiente» y de ``python -m labcode bench inference``.

Cada función mide una parte y devuelve un ``dict`` serializable en JSON; el
capítulo 13 las llama con sus tamaños y :func:`bench_inference` las reúne todas.
Antes de cronometrar se comprueba que los métodos comparados dan los mismos
tokens (o, en la cuantización, se mide cuánto cambian).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from labcode.analysis import inference as inf
from labcode.models.decoding import StaticCacheGPT, TruncatedLlama, speculative_generate
from labcode.utils.runtime import trim_heap
from labcode.utils.timing import time_call

__all__ = [
    "TARGETS",
    "bench_inference",
    "decode_report",
    "quant_report",
    "roofline_report",
    "speculative_report",
    "static_report",
]

#: Objetivos del proyecto (se informa de si se cumplen; no se exigen en las pruebas).
TARGETS = {"decode_ratio": 0.70, "int8_speedup": 1.8, "int8_ppl_rel": 0.02,
           "speculative_speedup": 1.5, "gpu_static_speedup": 5.0}


def roofline_report(n_bytes: int = 2**27, matmul_n: int = 1024,
                    min_run_time: float = 0.3) -> dict[str, float]:
    """Ancho de banda (copy, triad), FLOP/s de ``matmul`` y el punto de cruce del techo
    (intensidad a partir de la cual manda el cálculo, FLOP/byte)."""
    bw = inf.measure_bandwidth(n_bytes, min_run_time)
    peak = inf.measure_matmul_flops(matmul_n, min_run_time)
    return {"copy": bw["copy"], "triad": bw["triad"], "bandwidth": bw["triad"],
            "peak_flops": peak, "ridge": peak / bw["triad"], "n_bytes": bw["n_bytes"],
            "matmul_n": matmul_n}


def _compute_bound_from(rows: list[dict], gain: float = 1.3) -> int | None:
    """Primer lote tras el cual duplicar el lote da menos de ``gain`` veces los tokens/s
    (con memoria como límite, duplicar el lote casi duplica los tokens/s)."""
    for a, b in zip(rows, rows[1:], strict=False):
        doublings = math.log2(b["batch_size"] / a["batch_size"])
        if (b["tokens_per_s"] / a["tokens_per_s"]) ** (1 / doublings) < gain:
            return a["batch_size"]
    return None


def decode_report(model: nn.Module, roof: dict[str, float],
                  batch_sizes: Sequence[int] = (1, 2, 4, 8, 16, 32), context_len: int = 16,
                  new_tokens: int = 32, repeats: int = 3, min_run_time: float = 0.3,
                  progress: Callable | None = None) -> dict[str, Any]:
    """``GPT.generate`` con lote 1 frente al techo, y el paso de decodificación frente al lote.

    Devuelve los tokens/s de ``generate`` (lote 1, *prompt* de ``context_len``
    tokens, ``new_tokens`` nuevos), el techo de memoria y su razón; y las filas de
    :func:`labcode.analysis.inference.batch_throughput` con la predicción del techo
    (``roofline_tokens_per_s``, ``memory_bound``), el lote desde el que el techo
    predice que manda el cálculo (``ridge_batch``) y el primero tras el cual duplicar
    el lote ya no multiplica por 1,3 los tokens/s medidos (``measured_bound``).
    """
    prompt = torch.randint(0, model.config.vocab_size, (1, context_len),
                           generator=torch.Generator().manual_seed(0))
    gen_tps = inf.generate_tokens_per_second(model, prompt, new_tokens, repeats)
    rows = inf.batch_throughput(model, batch_sizes, context_len, min_run_time,
                                progress=progress)
    ridge_batch = None
    for r in rows:
        cost = inf.step_cost(model, 1, context_len, batch_size=r["batch_size"])
        r["roofline_tokens_per_s"] = cost.tokens / inf.roofline_time(
            cost, roof["bandwidth"], roof["peak_flops"])
        r["memory_bound"] = cost.bytes / roof["bandwidth"] >= cost.flops / roof["peak_flops"]
        if ridge_batch is None and not r["memory_bound"]:
            ridge_batch = r["batch_size"]
    cost1 = inf.step_cost(model, 1, context_len + new_tokens // 2)
    ceiling = inf.decode_ceiling(cost1, roof["bandwidth"])
    ratio = gen_tps / ceiling
    return {"generate_tokens_per_s": gen_tps, "rows": rows, "cost": cost1.as_dict(),
            "ceiling_tokens_per_s": ceiling, "ratio": ratio, "ridge_batch": ridge_batch,
            "measured_bound": _compute_bound_from(rows),
            "target_met": ratio >= TARGETS["decode_ratio"]}


def quant_report(model: nn.Module, eval_ids: torch.Tensor, prompt: torch.Tensor,
                 roof: dict[str, float], new_tokens: int = 16, repeats: int = 3,
                 window: int = 256, modes: Sequence[str] = ("weight_only", "dynamic"),
                 ) -> dict[str, Any]:
    """fp32 frente a int8 (cada modo de :class:`labcode.analysis.inference.Int8Linear`).

    Calidad: perplejidad sobre ``eval_ids`` ``(N,)``, error de los logits frente a
    fp32 en la primera ventana y si la generación voraz da los mismos tokens.
    Velocidad: tokens/s de ``generate`` con lote 1 (intercalado) frente al techo de
    memoria de cada variante, que sube porque cada peso ocupa 1 byte en vez de 4.
    """
    if "fp32" in modes or not modes:
        raise ValueError("quant_report: modes son modos de int8 ('fp32' es la referencia).")
    # Un solo juego de pesos int8: los demás modos lo comparten (memoria de Binder).
    first = inf.quantize_int8(model, mode=modes[0])
    variants = {"fp32": model, modes[0]: first,
                **{m: inf.with_int8_mode(first, m) for m in modes[1:]}}
    ref_tokens = model.generate(prompt, new_tokens)
    out: dict[str, Any] = {}
    ref_logits = None
    for name, m in variants.items():
        cost = inf.step_cost(m, 1, prompt.shape[1] + new_tokens // 2)
        out[name] = {"perplexity": inf.perplexity(m, eval_ids, window),
                     "bytes_per_token": cost.bytes_per_token,
                     "ceiling_tokens_per_s": inf.decode_ceiling(cost, roof["bandwidth"]),
                     "same_tokens": bool(torch.equal(m.generate(prompt, new_tokens), ref_tokens))}
        with torch.inference_mode():
            logits = m(eval_ids[None, :window]).float()  # (1, window, V)
        if ref_logits is None:
            ref_logits = logits
        else:
            out[name]["logit_error"] = inf.logit_stats(logits, ref_logits)
        del logits  # (1, window, V) float32: solo la referencia sigue viva (memoria de Binder)
        # glibc se queda con los temporales de cada variante (logits, log-softmax, el
        # empaquetado de FBGEMM); devolverlos antes de la siguiente baja el pico ~100 MB.
        trim_heap()
    del ref_logits
    # Cada variante ya generó una vez (same_tokens): ese fue su calentamiento.
    times = inf.time_calls({n: (lambda m=m: m.generate(prompt, new_tokens))
                            for n, m in variants.items()}, repeats=repeats, warmup=0)
    for name, t in times.items():
        out[name]["tokens_per_s"] = new_tokens / t
        out[name]["ratio"] = out[name]["tokens_per_s"] / out[name]["ceiling_tokens_per_s"]
        out[name]["speedup"] = times["fp32"] / t
        out[name]["ppl_rel"] = out[name]["perplexity"] / out["fp32"]["perplexity"] - 1
    best = modes[0]
    out["target_met"] = (out[best]["speedup"] >= TARGETS["int8_speedup"]
                         and abs(out[best]["ppl_rel"]) <= TARGETS["int8_ppl_rel"])
    return out


def speculative_report(model: nn.Module, prompt: torch.Tensor, new_tokens: int = 48,
                       ks: Sequence[int] = (2, 4, 6), draft_layers: int = 10,
                       draft: nn.Module | None = None, repeats: int = 1) -> dict[str, Any]:
    """Decodificación especulativa voraz frente a ``model.generate`` para cada ``k``.

    El borrador por defecto son las ``draft_layers`` primeras capas de ``model``
    (:class:`labcode.models.decoding.TruncatedLlama`). Comprueba que la salida es idéntica
    a la voraz del verificador antes de cronometrar.
    """
    draft = TruncatedLlama(model, draft_layers) if draft is None else draft
    ref = model.generate(prompt, new_tokens)
    fns: dict[str, Callable[[], object]] = {"greedy": lambda: model.generate(prompt, new_tokens)}
    rows = []
    for k in ks:
        out, stats = speculative_generate(model, draft, prompt, new_tokens, k=k)
        rows.append({"k": k, "same_tokens": bool(torch.equal(out, ref)), **stats})
        fns[f"k={k}"] = lambda k=k: speculative_generate(model, draft, prompt, new_tokens, k=k)
    if not all(r["same_tokens"] for r in rows):
        raise AssertionError("speculative_report: la salida especulativa no coincide con la "
                             "voraz del verificador; no se cronometra.")
    times = inf.time_calls(fns, repeats=repeats, warmup=0)
    for r in rows:
        r["seconds"] = times[f"k={r['k']}"]
        r["speedup"] = times["greedy"] / r["seconds"]
    best = max(rows, key=lambda r: r["speedup"])
    return {"rows": rows, "greedy_seconds": times["greedy"], "new_tokens": new_tokens,
            "draft_layers": getattr(draft, "n_layers", None), "best_k": best["k"],
            "best_speedup": best["speedup"],
            "target_met": best["speedup"] >= TARGETS["speculative_speedup"]}


def static_report(model: nn.Module, prompt: torch.Tensor, new_tokens: int = 32,
                  repeats: int = 3, compile_step: bool = False) -> dict[str, Any]:
    """Caché estática (:class:`labcode.models.decoding.StaticCacheGPT`) frente a la dinámica.

    Con ``compile_step=True`` el paso se compila con
    ``torch.compile(mode="reduce-overhead")`` (grafos CUDA en GPU) y se incluye el
    tiempo de la primera llamada (compilación).
    """
    static = StaticCacheGPT(model, prompt.shape[1] + new_tokens, batch_size=prompt.shape[0])
    ref = model.generate(prompt, new_tokens)
    fns = {"dynamic": lambda: model.generate(prompt, new_tokens),
           "static": lambda: static.generate(prompt, new_tokens)}
    same = {"static": bool(torch.equal(static.generate(prompt, new_tokens), ref))}
    compile_s = None
    if compile_step:
        compiled = StaticCacheGPT(model, prompt.shape[1] + new_tokens,
                                  batch_size=prompt.shape[0]).compile()
        first: dict[str, torch.Tensor] = {}
        compile_s = time_call(lambda: first.setdefault("ids", compiled.generate(
            prompt, new_tokens)), repeats=1, warmup=0).median_s  # incluye la compilación
        same["compiled"] = bool(torch.equal(first["ids"], ref))
        fns["compiled"] = lambda: compiled.generate(prompt, new_tokens)
    if not all(same.values()):
        raise AssertionError(f"static_report: tokens distintos de la caché dinámica: {same}.")
    times = inf.time_calls(fns, repeats=repeats)
    n = new_tokens * prompt.shape[0]
    return {"same_tokens": same, "compile_seconds": compile_s,
            "tokens_per_s": {k: n / t for k, t in times.items()},
            "speedup": {k: times["dynamic"] / t for k, t in times.items()}}


def _tiny_llama() -> nn.Module:
    from labcode.models.llama import Llama, LlamaConfig

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128,
                      num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=256)
    return Llama(cfg).eval()


def _llama_and_text(small: bool) -> tuple[nn.Module, torch.Tensor, str]:
    """SmolLM2 y el final del Quijote tokenizado; con ``small``, un Llama diminuto y ids
    aleatorios."""
    if small:
        ids = torch.randint(0, 256, (512,), generator=torch.Generator().manual_seed(0))
        return _tiny_llama(), ids, "Llama diminuto aleatorio"
    from labcode.hf import pretrained
    from labcode.data.quijote import load_quijote_text
    from labcode.hf.models import load_llama

    spec = pretrained.smollm2_spec()
    tok = pretrained.load_tokenizer(spec)
    text = load_quijote_text()
    ids = torch.tensor(tok.encode(text[-20000:]), dtype=torch.long)
    return load_llama(spec).eval(), ids, spec.name


def bench_inference(small: bool = False, device: str | None = None,
                    compile_step: bool | None = None, seed: int = 0) -> dict[str, Any]:
    """Todas las medidas del capítulo 13: techo, lotes, int8, especulativa y caché estática.

    Con ``small=True`` usa modelos diminutos (segundos). En CUDA la caché estática
    se mide también compilada (``compile_step`` por defecto ``True`` solo en GPU).
    """
    from labcode.book.bench import machine_info
    from labcode.models.gpt import GPT, GPTConfig

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    compile_step = dev.type == "cuda" if compile_step is None else compile_step
    torch.manual_seed(seed)
    gcfg = (GPTConfig(vocab_size=256, n_positions=128, n_embd=64, n_layer=2, n_head=2)
            if small else GPTConfig())
    gpt = GPT(gcfg).eval()
    roof = roofline_report(2**22 if small else 2**27, 128 if small else 1024,
                           0.05 if small else 0.3)
    report: dict[str, Any] = {"name": "inference", "small": small, "machine": machine_info(dev),
                              "roofline": roof, "targets": TARGETS}
    report["decode"] = decode_report(gpt, roof, (1, 2, 4) if small else (1, 2, 4, 8, 16, 32),
                                     new_tokens=4 if small else 32,
                                     min_run_time=0.02 if small else 0.3)
    llama, ids, llama_name = _llama_and_text(small)
    report["llama"] = llama_name
    n_eval = 128 if small else 512
    report["int8"] = quant_report(llama, ids[:n_eval], ids[None, :16], roof,
                                  new_tokens=8 if small else 16, window=64 if small else 256)
    # Borrador: el mismo modelo con pesos int8 (el capítulo 13 explica por qué este y no
    # sus primeras capas).
    report["speculative"] = speculative_report(
        llama, ids[None, 1000:1032] if not small else ids[None, :8],
        new_tokens=12 if small else 32, ks=(2, 4) if small else (2, 4, 6),
        draft=inf.quantize_int8(llama))
    gpt = gpt.to(dev)
    prompt = torch.randint(0, gcfg.vocab_size, (1, 8), device=dev)
    report["static"] = static_report(gpt, prompt, new_tokens=8 if small else 64,
                                     compile_step=compile_step)
    return report


def summary(report: dict[str, Any]) -> str:
    """Resumen de una línea por medida para la terminal."""
    roof, dec, q = report["roofline"], report["decode"], report["int8"]
    lines = [f"  ancho de banda (triad) {roof['triad'] / 1e9:.1f} GB/s · matmul "
             f"{roof['peak_flops'] / 1e9:.0f} GFLOP/s",
             f"  GPT.generate lote 1: {dec['generate_tokens_per_s']:.1f} tokens/s de un techo de "
             f"{dec['ceiling_tokens_per_s']:.1f} ({100 * dec['ratio']:.0f} %)"]
    lines += [f"  paso con lote {r['batch_size']:>2}: {r['tokens_per_s']:8.1f} tokens/s"
              for r in dec["rows"]]
    for name in ("fp32", "weight_only", "dynamic"):
        if name in q:
            r = q[name]
            lines.append(f"  {name:>11}: {r['tokens_per_s']:.1f} tokens/s (x{r['speedup']:.2f})"
                         f" · perplejidad {r['perplexity']:.2f}"
                         f" · techo {r['ceiling_tokens_per_s']:.1f}")
    sp = report["speculative"]
    lines += [f"  especulativa k={r['k']}: aceptación {100 * r['acceptance']:.0f} % · "
              f"x{r['speedup']:.2f} · mismos tokens {r['same_tokens']}" for r in sp["rows"]]
    st = report["static"]
    lines += [f"  caché {k}: {v:.1f} tokens/s" for k, v in st["tokens_per_s"].items()]
    return "\n".join(lines)
