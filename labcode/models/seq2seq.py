"""El Transformer completo encoder-decoder (Vaswani et al., 2017).

- :class:`TransformerConfig`: hiperparámetros (``dataclass``).
- :class:`TransformerModel`: *embeddings* + codificación posicional sinusoidal +
  ``N`` bloques encoder + ``N`` bloques decoder + proyección de salida; con
  ``encode``, ``decode``, ``forward``, ``loss``, ``generate`` (voraz o *beam search*)
  y ``cross_attention`` para visualizar la atención cruzada.
- :func:`default_num_threads`: hilos de PyTorch para entrenar.

La receta de entrenamiento (fechas del capítulo 5) está en :mod:`labcode.tasks.seq2seq`.

Las máscaras se construyen dentro del modelo a partir de ``pad_id``: relleno en
las claves de la fuente; causal y relleno en el destino. El relleno va siempre
a la derecha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from labcode.nn.blocks import (
    ACTIVATIONS,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    causal_mask,
    padding_mask,
)
from labcode.nn.params import num_parameters
from labcode.nn.positional import SinusoidalPositionalEncoding
from labcode.utils import checks
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = [
    "TransformerConfig",
    "TransformerModel",
]


@dataclass
class TransformerConfig:
    """Hiperparámetros de :class:`TransformerModel`.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
        Tamaños de los vocabularios de fuente y destino.
    d_model : int
        Dimensión del modelo.
    num_heads : int
        Cabezas de atención (deben dividir a ``d_model``).
    num_layers : int
        Bloques del encoder.
    num_decoder_layers : int o None
        Bloques del decoder (``None``: igual que ``num_layers``).
    d_ff : int
        Dimensión oculta de las FFN.
    dropout : float
        *Dropout* en *embeddings*, atención, FFN y ramas residuales.
    max_len : int
        Longitud máxima de fuente y destino (tamaño de la tabla posicional).
    pad_id, bos_id, eos_id : int
        Ids especiales (comunes a los dos vocabularios).
    norm_first : bool
        Pre-LN (``True``) o post-LN (``False``, el original). Con pre-LN se añade
        una LayerNorm final tras el encoder y tras el decoder.
    activation : str
        Activación de las FFN: ``"relu"``, ``"gelu"`` o ``"gelu_tanh"``.
    tie_embeddings : bool
        Si la proyección de salida comparte pesos con el *embedding* del destino.
    """

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 2
    num_decoder_layers: int | None = None
    d_ff: int = 512
    dropout: float = 0.1
    max_len: int = 64
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    norm_first: bool = False
    activation: str = "relu"
    tie_embeddings: bool = False

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "num_heads", "num_layers",
                     "d_ff", "max_len"):  # fmt: skip
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise LabcodeValueError(
                    f"TransformerConfig: {name} debe ser un entero >= 1; se recibió {v!r}."
                )
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_layers
        checks.positive_int("TransformerConfig: num_decoder_layers", self.num_decoder_layers)
        if self.d_model % self.num_heads != 0:
            raise LabcodeValueError(
                f"TransformerConfig: d_model ({self.d_model}) debe ser divisible entre "
                f"num_heads ({self.num_heads})."
            )
        checks.probability("TransformerConfig: dropout", self.dropout)
        for name in ("norm_first", "tie_embeddings"):
            checks.flag(f"TransformerConfig: {name}", getattr(self, name))
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            raise LabcodeValueError(
                f"TransformerConfig: activation debe ser una de {ACTIVATIONS}; "
                f"se recibió {self.activation!r}."
            )
        small = min(self.src_vocab_size, self.tgt_vocab_size)
        for name in ("pad_id", "bos_id", "eos_id"):
            v = checks.nonnegative_int(f"TransformerConfig: {name}", getattr(self, name))
            if not 0 <= v < small:
                raise LabcodeValueError(
                    f"TransformerConfig: {name}={v} está fuera del vocabulario; se esperaba "
                    f"0 <= {name} < {small} (src_vocab_size={self.src_vocab_size}, "
                    f"tgt_vocab_size={self.tgt_vocab_size})."
                )
        if len({self.pad_id, self.bos_id, self.eos_id}) != 3:
            raise LabcodeValueError(
                "TransformerConfig: pad_id, bos_id y eos_id deben ser distintos; se recibió "
                f"{self.pad_id}, {self.bos_id}, {self.eos_id}."
            )


class TransformerModel(nn.Module):
    """Transformer encoder-decoder completo.

    Parameters
    ----------
    config : TransformerConfig
        Hiperparámetros.

    Notes
    -----
    Submódulos: ``src_embed``, ``tgt_embed`` (``nn.Embedding``), ``pos``
    (:class:`labcode.nn.positional.SinusoidalPositionalEncoding`), ``encoder`` y
    ``decoder`` (``nn.ModuleList`` de bloques), ``enc_norm`` y ``dec_norm``
    (LayerNorm con pre-LN; identidad con post-LN) y ``lm_head`` (``nn.Linear``).
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = c = config
        self.src_embed = nn.Embedding(c.src_vocab_size, c.d_model)
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, c.d_model)
        self.pos = SinusoidalPositionalEncoding(c.d_model, c.max_len, dropout=c.dropout)
        kw = dict(dropout=c.dropout, norm_first=c.norm_first, activation=c.activation)
        self.encoder = nn.ModuleList(
            [TransformerEncoderBlock(c.d_model, c.num_heads, c.d_ff, **kw)
             for _ in range(c.num_layers)]
        )  # fmt: skip
        self.decoder = nn.ModuleList(
            [TransformerDecoderBlock(c.d_model, c.num_heads, c.d_ff, **kw)
             for _ in range(c.num_decoder_layers)]
        )  # fmt: skip
        self.enc_norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.dec_norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.lm_head = nn.Linear(c.d_model, c.tgt_vocab_size, bias=not c.tie_embeddings)
        self._reset_parameters()
        if c.tie_embeddings:
            self.lm_head.weight = self.tgt_embed.weight

    def _reset_parameters(self) -> None:
        # Xavier en las matrices, como en The Annotated Transformer.
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    # ------------------------------------------------------------------ utilidades
    def _check_ids(self, name: str, ids: torch.Tensor, vocab_size: int) -> None:
        if not isinstance(ids, torch.Tensor):
            raise LabcodeTypeError(
                f"TransformerModel: {name} debe ser un torch.Tensor de enteros (B, T); "
                f"se recibió {type(ids).__name__}."
            )
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise LabcodeTypeError(
                f"TransformerModel: {name} debe contener ids enteros (torch.long); "
                f"se recibió dtype={ids.dtype}."
            )
        if ids.dim() != 2:
            raise LabcodeValueError(
                f"TransformerModel: {name} debe tener forma (B, T); se recibió la forma "
                f"{tuple(ids.shape)} ({ids.dim()} dimensiones)."
            )
        if ids.shape[1] == 0:
            raise LabcodeValueError(f"TransformerModel: {name} está vacío (T = 0).")
        if ids.shape[1] > self.config.max_len:
            raise LabcodeValueError(
                f"TransformerModel: {name} tiene longitud {ids.shape[1]}, mayor que "
                f"max_len={self.config.max_len}."
            )
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= vocab_size:
            raise LabcodeValueError(
                f"TransformerModel: {name} contiene ids fuera del vocabulario: se esperaba "
                f"0 <= id < {vocab_size}; se recibió un rango [{lo}, {hi}]."
            )

    def src_mask(self, src: torch.Tensor) -> torch.Tensor:
        """Máscara de la fuente ``(B, 1, 1, S)``: ``True`` en los tokens reales."""
        return padding_mask(src, self.config.pad_id)

    def tgt_mask(self, tgt: torch.Tensor) -> torch.Tensor:
        """Máscara del destino ``(B, 1, T, T)``: causal **y** sin relleno en las claves."""
        T = tgt.shape[1]
        return causal_mask(T, device=tgt.device) & padding_mask(tgt, self.config.pad_id)

    # ------------------------------------------------------------------ pasos
    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codifica la fuente.

        Parameters
        ----------
        src : torch.Tensor
            Ids ``(B, S)``.

        Returns
        -------
        memory : torch.Tensor
            ``(B, S, C)``.
        src_mask : torch.Tensor
            ``(B, 1, 1, S)``.
        """
        self._check_ids("src", src, self.config.src_vocab_size)
        mask = self.src_mask(src)  # (B, 1, 1, S)
        x = self.pos(self.src_embed(src) * math.sqrt(self.config.d_model))  # (B, S, C)
        for block in self.encoder:
            x = block(x, mask=mask)
        return self.enc_norm(x), mask

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor,
        output_attentions: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
        """Decodifica (con *teacher forcing*) y devuelve los *logits*.

        Parameters
        ----------
        tgt : torch.Tensor
            Ids del destino desplazado ``(B, T)`` (empieza por ``<bos>``).
        memory, src_mask : torch.Tensor
            Lo que devuelve :meth:`encode`.
        output_attentions : bool
            Si es ``True`` devuelve también, por capa, ``{"self": ..., "cross": ...}``.

        Returns
        -------
        torch.Tensor
            *Logits* ``(B, T, tgt_vocab_size)`` (y la lista de pesos si se piden).
        """
        self._check_ids("tgt", tgt, self.config.tgt_vocab_size)
        if memory.shape[0] != tgt.shape[0]:
            raise LabcodeValueError(
                f"TransformerModel.decode: memory tiene B={memory.shape[0]} y tgt "
                f"B={tgt.shape[0]}; deben coincidir."
            )
        self_mask = self.tgt_mask(tgt)  # (B, 1, T, T)
        x = self.pos(self.tgt_embed(tgt) * math.sqrt(self.config.d_model))  # (B, T, C)
        weights = []
        for block in self.decoder:
            if output_attentions:
                x, w = block(x, memory, self_mask, src_mask, output_attentions=True)
                weights.append(w)
            else:
                x = block(x, memory, self_mask, src_mask)
        logits = self.lm_head(self.dec_norm(x))  # (B, T, V)
        return (logits, weights) if output_attentions else logits

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """``src (B, S)``, ``tgt (B, T)`` -> *logits* ``(B, T, tgt_vocab_size)``."""
        memory, src_mask = self.encode(src)
        return self.decode(tgt, memory, src_mask)

    def loss(self, src: torch.Tensor, tgt: torch.Tensor, label_smoothing: float = 0.0):
        """Entropía cruzada con *teacher forcing*.

        ``tgt`` es la secuencia completa ``<bos> y_1 ... y_n <eos> <pad>...``; el
        modelo recibe ``tgt[:, :-1]`` y predice ``tgt[:, 1:]`` (el relleno no cuenta).
        """
        logits = self(src, tgt[:, :-1])  # (B, T-1, V)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            tgt[:, 1:].reshape(-1),
            ignore_index=self.config.pad_id,
            label_smoothing=label_smoothing,
        )

    def cross_attention(self, src: torch.Tensor, tgt: torch.Tensor) -> list[torch.Tensor]:
        """Pesos de atención cruzada de cada capa del decoder.

        Returns
        -------
        list of torch.Tensor
            Una matriz ``(B, nh, T, S)`` por capa: fila ``t`` = a qué caracteres de
            la fuente atiende la posición ``t`` del destino para predecir el token ``t+1``.
        """
        memory, src_mask = self.encode(src)
        _, ws = self.decode(tgt, memory, src_mask, output_attentions=True)
        return [w["cross"] for w in ws]

    # ------------------------------------------------------------------ generación
    @torch.no_grad()
    def generate(
        self,
        src: torch.Tensor,
        max_len: int | None = None,
        num_beams: int = 1,
        length_penalty: float = 1.0,
        output_attentions: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Genera el destino de forma autorregresiva (voraz o con *beam search*).

        Parameters
        ----------
        src : torch.Tensor
            Ids de la fuente ``(B, S)``.
        max_len : int, opcional
            Longitud máxima de la salida **incluido** ``<bos>`` (por defecto
            ``config.max_len``).
        num_beams : int
            1 = decodificación voraz (*greedy*); >1 = *beam search*.
        length_penalty : float
            En *beam search*, la puntuación es ``logprob / longitud ** length_penalty``.
        output_attentions : bool
            Si es ``True`` devuelve también la atención cruzada de cada capa sobre la
            salida generada (véase :meth:`cross_attention`).

        Returns
        -------
        torch.Tensor
            Ids ``(B, T_out)`` que empiezan por ``<bos>``; tras ``<eos>`` hay relleno.
        """
        c = self.config
        max_len = c.max_len if max_len is None else max_len
        if isinstance(max_len, bool) or not isinstance(max_len, int) or not 2 <= max_len:
            raise LabcodeValueError(
                f"generate: max_len debe ser un entero >= 2; se recibió {max_len!r}."
            )
        if max_len > c.max_len:
            raise LabcodeValueError(
                f"generate: max_len={max_len} supera la longitud máxima del modelo "
                f"(config.max_len={c.max_len})."
            )
        if isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1:
            raise LabcodeValueError(f"generate: num_beams debe ser un entero >= 1; "
                             f"se recibió {num_beams!r}.")  # fmt: skip
        was_training = self.training
        self.eval()
        try:
            memory, src_mask = self.encode(src)
            if num_beams == 1:
                out = self._greedy(memory, src_mask, max_len)
            else:
                out = self._beam(memory, src_mask, max_len, num_beams, length_penalty)
            if output_attentions:
                attn = [w["cross"] for w in self.decode(out, memory, src_mask, True)[1]]
                return out, attn
            return out
        finally:
            self.train(was_training)

    def _greedy(self, memory, src_mask, max_len: int) -> torch.Tensor:
        c = self.config
        B = memory.shape[0]
        out = torch.full((B, 1), c.bos_id, dtype=torch.long, device=memory.device)
        done = torch.zeros(B, dtype=torch.bool, device=memory.device)
        for _ in range(max_len - 1):
            logits = self.decode(out, memory, src_mask)[:, -1]  # (B, V)
            nxt = logits.argmax(-1)  # (B,)
            nxt = torch.where(done, torch.full_like(nxt, c.pad_id), nxt)
            out = torch.cat([out, nxt[:, None]], dim=1)
            done |= nxt == c.eos_id
            if bool(done.all()):
                break
        return out

    def _beam(self, memory, src_mask, max_len: int, k: int, alpha: float) -> torch.Tensor:
        c = self.config
        results = []
        for b in range(memory.shape[0]):
            mem = memory[b : b + 1].expand(k, -1, -1)  # (k, S, C)
            msk = src_mask[b : b + 1].expand(k, -1, -1, -1)  # (k, 1, 1, S)
            seqs = torch.full((1, 1), c.bos_id, dtype=torch.long, device=memory.device)
            scores = torch.zeros(1, device=memory.device)  # log-probabilidades acumuladas
            finished: list[tuple[float, torch.Tensor]] = []
            for _ in range(max_len - 1):
                n = seqs.shape[0]
                logp = self.decode(seqs, mem[:n], msk[:n])[:, -1].log_softmax(-1)  # (n, V)
                logp[:, c.pad_id] = float("-inf")
                cand = (scores[:, None] + logp).view(-1)  # (n * V,)
                top, idx = cand.topk(min(2 * k, cand.numel()))
                V = logp.shape[-1]
                new_seqs, new_scores = [], []
                for s, i in zip(top.tolist(), idx.tolist(), strict=True):
                    seq = torch.cat([seqs[i // V], seqs.new_tensor([i % V])])
                    if i % V == c.eos_id:
                        finished.append((s / (len(seq) - 1) ** alpha, seq))
                    else:
                        new_seqs.append(seq)
                        new_scores.append(s)
                    if len(new_seqs) == k:
                        break
                best_done = max((f[0] for f in finished), default=float("-inf"))
                if not new_seqs or (
                    len(finished) >= k
                    and best_done >= max(new_scores) / (len(new_seqs[0]) - 1) ** alpha
                ):
                    break
                seqs = torch.stack(new_seqs)
                scores = torch.tensor(new_scores, device=memory.device)
            if not finished:  # ninguna hipótesis terminó: la mejor sin <eos>
                finished.append((float(scores[0]), seqs[0]))
            results.append(max(finished, key=lambda f: f[0])[1])
        T = max(len(r) for r in results)
        out = torch.full((len(results), T), c.pad_id, dtype=torch.long, device=memory.device)
        for i, r in enumerate(results):
            out[i, : len(r)] = r
        return out

    # ------------------------------------------------------------------ contabilidad
    def num_parameters(self, by_component: bool = False) -> int | dict[str, int]:
        """Número de parámetros entrenables (sin contar dos veces los compartidos).

        Con ``by_component=True`` devuelve un diccionario por componente:
        ``embeddings``, ``encoder``, ``decoder``, ``final_norms`` y ``lm_head``.
        """
        if not by_component:
            return num_parameters(self)
        seen: set[int] = set()

        def count(*mods: nn.Module) -> int:
            total = 0
            for m in mods:
                for p in m.parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        total += p.numel()
            return total

        return {
            "embeddings": count(self.src_embed, self.tgt_embed, self.pos),
            "encoder": count(self.encoder),
            "decoder": count(self.decoder),
            "final_norms": count(self.enc_norm, self.dec_norm),
            "lm_head": count(self.lm_head),
        }
