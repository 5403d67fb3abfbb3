"""Pruebas de rendimiento (*benchmarks*) del libro: una sola implementación.

El apéndice «Rendimiento» las ejecuta durante la construcción del libro, los
guiones de ``benchmarks/`` son envoltorios finos de estas funciones y la línea de
órdenes las expone::

    python -m labcode bench                 # todas las rápidas (sin ajuste fino)
    python -m labcode bench mha generation  # sólo algunas
    python -m labcode bench finetune --json _build/benchmarks/finetune.json

Cada medición intercala las repeticiones de los métodos que compara (A, B, A,
B...) para que una carga variable de la máquina les afecte por igual, descarta
un calentamiento y da la **mediana**. Cada función devuelve un ``dict``
serializable en JSON con la configuración, la máquina y los resultados.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from labcode.utils.checks import positive_int
from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeFileNotFoundError, LabcodeValueError
from labcode.utils.runtime import quiet_transformers, timer
from labcode.utils.timing import Timing, time_interleaved

__all__ = [
    "BENCHMARKS",
    "BINDER_MEMORY_LIMIT_BYTES",
    "add_cli",
    "bench_finetune",
    "bench_generation",
    "bench_mha_numpy",
    "bench_mha_torch",
    "book_build_times",
    "book_peak_memory",
    "machine_info",
    "run_cli",
    "summary",
    "write_json",
]

#: Memoria que Binder da a cada lector; ningún capítulo (perfil quick) debe pasar de aquí.
BINDER_MEMORY_LIMIT_BYTES = 2 * 10**9

#: Objetivos del proyecto para estas mediciones.
MHA_TARGET_RATIO = 1.2
FINETUNE_TARGETS = {
    "quick": {"accuracy": 0.85, "train_seconds": 300.0},
    "full": {"accuracy": 0.92, "train_seconds": None},
}


# --- Utilidades -------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str | torch.device = "cpu") -> dict[str, Any]:
    """La máquina y las versiones de las bibliotecas, para citarlas junto a las cifras.

    Amplía :func:`labcode.utils.runtime.environment_summary` con el modelo de CPU, el
    dispositivo, la GPU y la versión de ``transformers``.
    """
    import transformers

    from labcode.utils.runtime import environment_summary

    device = torch.device(device)
    return {
        **environment_summary(),
        "cpu": _cpu_model(),
        "dispositivo": str(device),
        "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        "transformers": transformers.__version__,
    }


def write_json(report: Any, path: str | os.PathLike) -> Path:
    """Escribe ``report`` como JSON legible en ``path`` (crea la carpeta); devuelve la ruta."""
    from labcode.utils.checks import atomic_write_text

    text = json.dumps(report, indent=2, default=str, ensure_ascii=False)
    return atomic_write_text(path, text)


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        positive_int(name, value)


def _ms(times: dict[str, Timing], name: str) -> float:
    """Mediana en milisegundos de ``times[name]``."""
    return 1e3 * times[name].median_s


# --- Atención multi-cabeza ----------------------------------------------------------


def bench_mha_numpy(
    seq_lens: Sequence[int] = (64, 256, 1024),
    d_model: int = 256,
    num_heads: int = 8,
    batch_size: int = 4,
    repeats: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Nuestra atención multi-cabeza en NumPy frente a ``torch.nn.MultiheadAttention``.

    Mismos pesos y misma entrada; NumPy calcula en float64 (como en el capítulo 3)
    y PyTorch en float32. Se comprueba además que las salidas coinciden.

    Returns
    -------
    dict
        ``rows``: una fila por longitud con los tiempos (ms), la razón NumPy/torch y
        la diferencia máxima entre salidas.
    """
    from labcode.numpy_ref.attention import MultiHeadAttentionNumPy

    _check_sizes(d_model=d_model, num_heads=num_heads, batch_size=batch_size, repeats=repeats)
    for n in seq_lens:
        _check_sizes(seq_len=n)
    mha = MultiHeadAttentionNumPy(d_model, num_heads, seed=seed)
    ref = mha.to_torch(torch.float32)
    rng = np.random.default_rng(_check_seed(seed))
    rows = []
    for n in seq_lens:
        x = rng.normal(size=(batch_size, n, d_model))
        xt = torch.from_numpy(x).float()

        def run_torch(xt=xt):
            with torch.no_grad():
                return ref(xt, xt, xt, need_weights=False)[0]

        def run_numpy(x=x):
            return mha.forward(x)[0]

        t = time_interleaved({"numpy": run_numpy, "torch": run_torch}, repeats, warmup=1)
        err = float(np.abs(run_numpy() - run_torch().double().numpy()).max())
        rows.append({
            "seq_len": n,
            "numpy_ms": _ms(t, "numpy"),
            "torch_ms": _ms(t, "torch"),
            "ratio": t["numpy"].median_s / t["torch"].median_s,
            "max_abs_diff": err,
        })
    return {
        "name": "mha-numpy",
        "config": {"d_model": d_model, "num_heads": num_heads, "batch_size": batch_size,
                   "repeats": repeats, "numpy_dtype": "float64", "torch_dtype": "float32"},
        "machine": machine_info(),
        "rows": rows,
    }


def bench_mha_torch(
    seq_len: int = 256,
    d_model: int = 512,
    num_heads: int = 8,
    batch_size: int = 8,
    repeats: int = 7,
    seed: int = 0,
    device: str | None = None,
) -> dict[str, Any]:
    """``labcode.nn.blocks.MultiHeadAttention`` frente a ``nn.MultiheadAttention``.

    Mismos pesos (se copian, y se comprueba que las salidas coinciden), misma
    entrada, sin máscara y sin pedir los pesos de atención. Dos modos:

    - ``inference``: ``eval()`` y ``torch.no_grad()`` (PyTorch usa su camino rápido
      *fused*);
    - ``training``: ``train()``, paso hacia delante y hacia atrás.

    Returns
    -------
    dict
        ``modes``: por modo, los tiempos (ms) y ``ratio`` = nuestro / PyTorch;
        ``target_ratio`` y ``target_met``.
    """
    _check_sizes(seq_len=seq_len, d_model=d_model, num_heads=num_heads,
                 batch_size=batch_size, repeats=repeats)
    dev = torch.device(device or "cpu")
    torch.manual_seed(_check_seed(seed))
    ours, ref = _twin_attention(d_model, num_heads, dev)
    x = torch.randn(batch_size, seq_len, d_model, device=dev)
    ours.eval()
    ref.eval()
    with torch.no_grad():
        max_diff = float((ours(x)[0] - ref(x, x, x, need_weights=False)[0]).abs().max())
    out = {mode: _mha_mode_times(ours, ref, x, mode, repeats)
           for mode in ("inference", "training")}
    worst = max(m["ratio"] for m in out.values())
    return {
        "name": "mha",
        "config": {"seq_len": seq_len, "d_model": d_model, "num_heads": num_heads,
                   "batch_size": batch_size, "repeats": repeats},
        "machine": machine_info(dev),
        "max_abs_diff": max_diff,
        "modes": out,
        "target_ratio": MHA_TARGET_RATIO,
        "target_met": worst <= MHA_TARGET_RATIO,
    }



def _twin_attention(d_model: int, num_heads: int, dev: torch.device) -> tuple[nn.Module, nn.Module]:
    """``labcode.nn.blocks.MultiHeadAttention`` con los pesos de un ``nn.MultiheadAttention``."""
    from labcode.nn.blocks import MultiHeadAttention

    ref = nn.MultiheadAttention(d_model, num_heads, batch_first=True).to(dev)
    ours = MultiHeadAttention(d_model, num_heads).to(dev)
    with torch.no_grad():
        wq, wk, wv = ref.in_proj_weight.chunk(3)
        bq, bk, bv = ref.in_proj_bias.chunk(3)
        for lin, w, b in ((ours.q_proj, wq, bq), (ours.k_proj, wk, bk), (ours.v_proj, wv, bv)):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        ours.out_proj.weight.copy_(ref.out_proj.weight)
        ours.out_proj.bias.copy_(ref.out_proj.bias)
    return ours, ref


def _mha_mode_times(ours: nn.Module, ref: nn.Module, x: torch.Tensor, mode: str,
                    repeats: int) -> dict[str, float]:
    """Tiempos (ms) y razón nuestro / PyTorch en ``inference`` (sin gradientes) o
    ``training`` (hacia delante y hacia atrás)."""
    training = mode == "training"
    ours.train(training)
    ref.train(training)

    def run(fn):
        if training:
            return lambda: fn().sum().backward()
        return lambda: _no_grad(fn)

    t = time_interleaved({"ours": run(lambda: ours(x)[0]),
                          "torch": run(lambda: ref(x, x, x, need_weights=False)[0])},
                         repeats, warmup=2)
    return {"ours_ms": _ms(t, "ours"), "torch_ms": _ms(t, "torch"),
            "ratio": t["ours"].median_s / t["torch"].median_s}


def _no_grad(fn: Callable[[], Any]) -> Any:
    with torch.no_grad():
        return fn()


# --- Generación ---------------------------------------------------------------------


def bench_generation(
    n_layer: int = 12,
    n_embd: int = 768,
    n_head: int = 12,
    vocab_size: int = 50257,
    n_positions: int = 1024,
    batch_size: int = 1,
    prompt_len: int = 16,
    new_tokens: int = 64,
    repeats: int = 3,
    warmup: int = 1,
    seed: int = 0,
    device: str | None = None,
) -> dict[str, Any]:
    """Tokens por segundo de ``labcode.models.gpt.GPT.generate`` (con y sin caché KV) y de HF.

    Los tres caminos usan **el mismo modelo**: una configuración de GPT-2 (por
    defecto la *small*, 124 M parámetros) con pesos aleatorios: nuestro ``GPT`` usa los
    mismos tensores que el ``GPT2LMHeadModel`` (``GPT.from_hf(share=True)``). La velocidad no
    depende de los valores de los pesos, y sin red no hay pesos preentrenados de
    GPT-2. Decodificación voraz, sin token de fin: todos generan exactamente
    ``new_tokens`` tokens, y se comprueba que son los mismos. Antes de cronometrar, cada
    camino se llama ``max(1, warmup)`` veces; la primera da los tokens que se comparan.
    """
    _check_sizes(n_layer=n_layer, n_embd=n_embd, n_head=n_head, vocab_size=vocab_size,
                 n_positions=n_positions, batch_size=batch_size, prompt_len=prompt_len,
                 new_tokens=new_tokens, repeats=repeats)
    if prompt_len + new_tokens > n_positions:
        raise LabcodeValueError(
            f"prompt_len + new_tokens ({prompt_len + new_tokens}) no cabe en n_positions "
            f"({n_positions})."
        )
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(_check_seed(seed))
    hf, ours = _twin_gpt2(dev, vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd,
                          n_layer=n_layer, n_head=n_head)
    g = torch.Generator().manual_seed(_check_seed(seed))
    prompt = torch.randint(0, vocab_size, (batch_size, prompt_len), generator=g).to(dev)
    n = new_tokens
    methods = _generation_methods(hf, ours, prompt, n)
    with torch.no_grad():
        # La primera llamada de cada camino es la de calentamiento y da los tokens que se comparan.
        out = {name: fn() for name, fn in methods.items()}
        same = {
            "no_cache_equals_cache": bool(torch.equal(out["labcode_cache"],
                                                      out["labcode_no_cache"])),
            "hf_equals_cache": bool(torch.equal(out["labcode_cache"], out["hf"])),
        }
        t = time_interleaved(methods, repeats, max(0, warmup - 1))
    results = {name: {"seconds": r.median_s, "all_seconds": list(r.times_s),
                      "tokens_per_s": n * batch_size / r.median_s} for name, r in t.items()}
    return {
        "name": "generation",
        "config": {"n_layer": n_layer, "n_embd": n_embd, "n_head": n_head,
                   "vocab_size": vocab_size, "parameters": ours.num_parameters(),
                   "batch_size": batch_size, "prompt_len": prompt_len, "new_tokens": n,
                   "repeats": repeats, "warmup": max(1, warmup), "decoding": "greedy"},
        "machine": machine_info(dev),
        "same_tokens": same,
        "results": results,
        "target_met": results["labcode_cache"]["tokens_per_s"] >= results["hf"]["tokens_per_s"],
    }


def _twin_gpt2(dev: torch.device, **config: int) -> tuple[nn.Module, nn.Module]:
    """Un ``GPT2LMHeadModel`` con pesos aleatorios y su copia en ``labcode.models.gpt.GPT``,
    sin token de fin (así los dos generan siempre los tokens pedidos)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from labcode.models.gpt import GPT

    cfg = GPT2Config(**config, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    with quiet_transformers():
        hf = GPT2LMHeadModel(cfg).eval().to(dev)
    hf.generation_config.eos_token_id = None
    hf.generation_config.bos_token_id = None
    hf.generation_config.pad_token_id = 0
    # share=True: los mismos tensores que HF (un solo GPT-2 en memoria; Binder da 2 GB).
    return hf, GPT.from_hf(hf, share=True).eval()



def _generation_methods(hf: nn.Module, ours: nn.Module, prompt: torch.Tensor,
                        n: int) -> dict[str, Callable[[], torch.Tensor]]:
    """Las tres formas de generar ``n`` tokens voraces: con caché, sin caché y HF."""
    mask = torch.ones_like(prompt)

    def hf_generate():
        with quiet_transformers():
            return hf.generate(prompt, attention_mask=mask, max_new_tokens=n,
                               min_new_tokens=n, do_sample=False)

    return {
        "labcode_cache": lambda: ours.generate(prompt, n, use_cache=True),
        "labcode_no_cache": lambda: ours.generate(prompt, n, use_cache=False),
        "hf": hf_generate,
    }


def _bench_inference(**kwargs: Any) -> dict[str, Any]:
    """Capítulo 13 (techo, lotes, int8, especulativa, caché estática): ver
    :func:`labcode.book.inference_bench.bench_inference`."""
    from labcode.book.inference_bench import bench_inference

    return bench_inference(**kwargs)


# --- Ajuste fino --------------------------------------------------------------------


def bench_finetune(
    train_limit: int | None = None,
    epochs: int = 1,
    batch_size: int = 16,
    lr: float | None = None,
    max_length: int = 128,
    seed: int = 0,
    device: str | None = None,
) -> dict[str, Any]:
    """Ajusta el clasificador del perfil activo en SST-2 y mide tiempo y exactitud.

    Objetivos: perfil ``quick`` >= 85 % en <= 5 min de entrenamiento en 2 núcleos;
    perfil ``full`` >= 92 %. El resultado dice si se alcanzaron (``target_met``).
    """
    from labcode.hf import pretrained
    from labcode.hf.sentiment import BERTSentimentClassifier

    _check_sizes(epochs=epochs, batch_size=batch_size, max_length=max_length)
    train = pretrained.load_sst2("train", limit=train_limit)
    val = pretrained.load_sst2("validation")
    with timer() as load:
        clf = BERTSentimentClassifier(max_length=max_length, device=device, seed=seed)
    run = pretrained.describe_run(clf.spec, n_train=len(train), n_eval=len(val),
                                  device=clf.device)
    hist = clf.fit(train["sentence"], train["label"], epochs=epochs, batch_size=batch_size,
                   lr=lr)
    with timer() as evaluation:
        metrics = clf.evaluate(val["sentence"], val["label"])
    target = FINETUNE_TARGETS[run["profile"]]
    met = metrics["accuracy"] >= target["accuracy"] and (
        target["train_seconds"] is None or hist.train_seconds <= target["train_seconds"])
    return {
        "name": "finetune",
        **run,
        "epochs": epochs, "batch_size": batch_size, "lr": max(hist.lr),
        "max_length": max_length, "steps": len(hist.step),
        "load_seconds": load["s"], "train_seconds": hist.train_seconds,
        "eval_seconds": evaluation["s"],
        **metrics,
        "target": target,
        "target_met": bool(met),
        "machine": machine_info(clf.device),
    }


# --- Tiempo de construcción del libro -----------------------------------------------


def book_build_times(build_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Tiempos de ejecución de cada capítulo, leídos de la caché de jupyter-cache.

    Parameters
    ----------
    build_dir : ruta, opcional
        La carpeta ``_build`` del libro (por defecto ``LABCODE_BUILD_DIR`` o
        ``_build`` junto al proyecto).

    Returns
    -------
    dict
        ``pages``: ``{página: segundos de ejecución}`` (de la ejecución que está en
        la caché), ``total_seconds``, ``peak_rss_bytes``: ``{página: pico de
        memoria en bytes}`` (lo que anotó :func:`labcode.book.notebook.record_peak_memory`
        al final de cada capítulo; vacío si no hay anotaciones) y
        ``previous_build``: el contenido de ``build-time.json`` (la construcción
        anterior completa) si existe, y ``execution``: el de ``execution.json``
        (``jobs``, capítulos a la vez, y ``threads``, hilos de cada uno, que escribe
        ``tools/execute_book.py``) si existe.

    Raises
    ------
    FileNotFoundError
        Si no hay caché de ejecución en ``build_dir``.
    """
    if build_dir is None:
        env = os.environ.get("LABCODE_BUILD_DIR", "").strip()
        build_dir = env or Path(__file__).resolve().parents[2] / "_build"  # labcode/book/..
    build = Path(build_dir)
    cache_path = build / ".jupyter_cache"
    if not cache_path.is_dir():
        raise LabcodeFileNotFoundError(
            f"No hay caché de ejecución en {cache_path}: construye el libro con `make book` "
            "o indica la carpeta con LABCODE_BUILD_DIR."
        )
    from jupyter_cache import get_cache  # sólo hace falta donde se construye el libro

    cache = get_cache(str(cache_path))
    pages: dict[str, float] = {}
    for record in cache.list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            pages[Path(record.uri).stem] = float(seconds)
    previous, execution = (
        json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        for path in (build / "build-time.json", build / "execution.json"))
    return {
        "name": "build",
        "pages": dict(sorted(pages.items())),
        "total_seconds": sum(pages.values()),
        "peak_rss_bytes": book_peak_memory(build),
        "previous_build": previous,
        "execution": execution,
    }


def book_peak_memory(build_dir: str | os.PathLike) -> dict[str, int]:
    """``{página: bytes}``: el pico de memoria que anotó cada capítulo en ``build_dir``."""
    from labcode.book.notebook import PEAK_RSS_DIR

    out: dict[str, int] = {}
    for path in sorted((Path(build_dir) / PEAK_RSS_DIR).glob("*.json")):
        try:
            out.update({str(k): int(v) for k, v in json.loads(path.read_text("utf-8")).items()})
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"{path} no es un registro de memoria válido: {exc}") from exc
    return out


# --- Línea de órdenes ---------------------------------------------------------------

#: Mediciones de ``python -m labcode bench`` (``finetune`` sólo si se pide).
BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {
    "mha-numpy": bench_mha_numpy,
    "mha": bench_mha_torch,
    "generation": bench_generation,
    "finetune": bench_finetune,
    "build": book_build_times,
    "inference": lambda **kw: _bench_inference(**kw),
}
_DEFAULT = ("mha-numpy", "mha", "generation")


def summary(report: dict[str, Any]) -> str:
    name = report["name"]
    if name == "mha-numpy":
        return "\n".join(
            f"  n={r['seq_len']:>5}: NumPy {r['numpy_ms']:8.2f} ms · torch {r['torch_ms']:8.2f} ms"
            f" · x{r['ratio']:.1f} · dif. máx. {r['max_abs_diff']:.1e}" for r in report["rows"])
    if name == "mha":
        lines = [f"  {mode:>9}: labcode {m['ours_ms']:.2f} ms · nn.MultiheadAttention "
                 f"{m['torch_ms']:.2f} ms · razón {m['ratio']:.2f}"
                 for mode, m in report["modes"].items()]
        lines.append(f"  objetivo <= {report['target_ratio']}: "
                     f"{'sí' if report['target_met'] else 'no'}")
        return "\n".join(lines)
    if name == "generation":
        lines = [f"  {k:>16}: {r['tokens_per_s']:8.1f} tokens/s"
                 for k, r in report["results"].items()]
        lines.append(f"  mismos tokens: {report['same_tokens']}")
        return "\n".join(lines)
    if name == "finetune":
        return (f"  {report['model']} · {report['n_train']} frases · "
                f"{report['train_seconds']:.1f} s · exactitud {100 * report['accuracy']:.1f} % · "
                f"objetivo {'sí' if report['target_met'] else 'no'}")
    if name == "inference":
        from labcode.book.inference_bench import summary

        return summary(report)
    if name == "build":
        return "\n".join([f"  {p}: {s:.1f} s" for p, s in report["pages"].items()]
                         + [f"  total: {report['total_seconds']:.1f} s"])
    return json.dumps(report, indent=2, default=str)  # pragma: no cover


def add_cli(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Registra ``bench`` en la línea de órdenes de ``python -m labcode``."""
    p = subparsers.add_parser(
        "bench",
        help="mide el rendimiento (atención, generación, ajuste fino, libro)",
        description="Mide el rendimiento. Sin argumentos: " + ", ".join(_DEFAULT) + ".",
    )
    p.add_argument("names", nargs="*", metavar="MEDICIÓN",
                   help=f"qué medir: {', '.join(BENCHMARKS)} (por defecto {' '.join(_DEFAULT)})")
    p.add_argument("--small", action="store_true",
                   help="tamaños pequeños (segundos en vez de minutos), para probar")
    p.add_argument("--json", metavar="FICHERO", help="escribe todos los resultados en JSON")
    return p


def run_cli(args: argparse.Namespace) -> int:
    """Ejecuta ``python -m labcode bench``."""
    names = list(args.names) or list(_DEFAULT)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise LabcodeValueError(f"bench: mediciones desconocidas {unknown}; se esperaba alguna "
                                f"de {list(BENCHMARKS)}.")
    if args.json:
        from labcode.utils.checks import writable_file

        writable_file(args.json, "--json")
    small = {
        "mha-numpy": {"seq_lens": (32, 64), "d_model": 64, "repeats": 2},
        "mha": {"seq_len": 32, "d_model": 64, "batch_size": 2, "repeats": 2},
        "generation": {"n_layer": 2, "n_embd": 64, "n_head": 2, "vocab_size": 256,
                       "n_positions": 64, "new_tokens": 8, "repeats": 1},
        "finetune": {"train_limit": 64},
        "build": {},
        "inference": {"small": True},
    }
    reports = {}
    for name in names:
        kwargs = small[name] if args.small else {}
        print(f"== {name}", flush=True)
        try:
            report = BENCHMARKS[name](**kwargs)
        except (FileNotFoundError, OSError) as exc:
            print(f"  no se pudo medir: {exc}")
            continue
        reports[name] = report
        print(summary(report), flush=True)
    if args.json:
        print(f"JSON: {write_json(reports, args.json)}")
    return 0 if len(reports) == len(names) else 1
