"""count_parameters: a transformer's parameters from its sizes and conventions, nothing loaded.

With d = d_model, f = d_ff, V = vocabulary, h heads of d/h each and g key/value heads:

    token embedding      V d             (+ types d for token-type / segment embeddings)
    patch embedding      C P^2 d + d     (a P x P convolution with bias; + d for a [CLS] token)
    learned positions    positions d     (sinusoidal ones are computed, not parameters)
    attention            q, o: d^2 each, k, v: d g d/h each; + their biases where the convention has them
    feed-forward         2 d f           + f + d with biases
    a LayerNorm          2 d             (weight and bias; d without the bias, as an RMSNorm)
    pooler               d^2 + d;  classifier d L + L;  LM head V d unless tied to the token embedding

Decoder layers attending to an encoder have a second (cross-)attention block and one more norm.
The seed's example (V 100, d 32, 4 heads, f 64, 2 encoder layers, 10 learned positions, attention
without biases, FFN with them, two LayerNorms a layer) gives 3,200 + 320 + 2 x (4,096 + 4,192 +
128) = 20,352.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genai_mcp.tools.anatomy.params import breakdown_of, kv_cache
from genai_mcp.tools.anatomy.schemas import Component, KVCache, ModelFigures, ParameterBreakdown

__all__ = ["AnalyticCount", "CountRequest", "Term", "count_parameters"]

_SIZE = 1_000_000
_LAYERS = 512  # past the deepest published transformers (~128 layers); bounds the result size


class CountRequest(BaseModel):
    """A transformer described by its sizes and conventions (defaults: the seed's encoder, with
    biases everywhere and no final norm or head)."""

    model_config = ConfigDict(extra="forbid")

    d_model: int = Field(ge=1, le=_SIZE, description="Width of the residual stream, d.")
    heads: int = Field(ge=1, le=4096, description="Attention heads; d_model must divide by it.")
    d_ff: int = Field(ge=1, le=_SIZE * 4, description="Hidden width of the feed-forward block.")
    encoder_layers: int = Field(0, ge=0, le=_LAYERS)
    decoder_layers: int = Field(0, ge=0, le=_LAYERS)
    inputs: Literal["tokens", "patches"] = Field(
        "tokens", description="Token ids (text) or image patches (ViT)."
    )
    vocab_size: int = Field(0, ge=0, le=10 * _SIZE, description="Token vocabulary (inputs tokens).")
    token_types: int = Field(0, ge=0, le=1024, description="Token-type (segment) embeddings; BERT has 2.")
    image_size: int = Field(224, ge=1, le=65_536, description="Square input side, pixels (inputs patches).")
    patch_size: int = Field(16, ge=1, le=65_536, description="Patch side P, pixels (inputs patches).")
    channels: int = Field(3, ge=1, le=64, description="Image channels C (inputs patches).")
    cls_token: bool = Field(False, description="A learned [CLS] token before the patches (ViT).")
    positions: Literal["learned", "sinusoidal", "none"] = "learned"
    max_positions: int | None = Field(
        None,
        ge=1,
        le=10 * _SIZE,
        description="Learned positions for tokens (the sequence length); patches: N + [CLS].",
    )
    kv_heads: int | None = Field(
        None, ge=1, le=4096, description="Key/value heads (grouped-query); null: heads."
    )
    qkv_bias: bool = Field(True, description="Biases on the query, key and value projections.")
    out_bias: bool = Field(True, description="Bias on the attention output projection.")
    ffn_bias: bool = Field(True, description="Biases on the two feed-forward projections.")
    norm_bias: bool = Field(
        True, description="Norms have a bias (LayerNorm: 2d); false: weight only (RMSNorm: d)."
    )
    norms_per_layer: int = Field(
        2, ge=0, le=4, description="Norms in each layer (decoder layers with cross-attention: one more)."
    )
    embedding_norm: bool = Field(False, description="A norm after the embeddings (BERT).")
    final_norm: bool = Field(False, description="A norm after the last layer of each stack (GPT-2, ViT).")
    cross_attention: bool | None = Field(
        None, description="Decoder layers attend to the encoder; null: when both stacks exist."
    )
    pooler: bool = Field(
        False, description="A d x d dense layer with bias on the first token (BERT, ViTModel)."
    )
    head: Literal["none", "lm", "classifier"] = "none"
    num_labels: int = Field(
        0, ge=0, le=_SIZE, description="Classes of a classifier head (weights and biases)."
    )
    tied_embeddings: bool = Field(
        True, description="The LM head is the token embedding (no parameters of its own)."
    )
    context_length: int | None = Field(
        None, ge=1, le=10 * _SIZE, description="KV-cache tokens (decoders); null: max_positions."
    )
    batch_size: int = Field(1, ge=1, le=65_536, description="Sequences in the KV-cache figure.")

    @model_validator(mode="after")
    def _consistent(self) -> CountRequest:
        if self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of heads {self.heads}")
        if self.kv_heads is not None and self.heads % self.kv_heads:
            raise ValueError(f"heads {self.heads} is not a multiple of kv_heads {self.kv_heads}")
        if self.encoder_layers + self.decoder_layers == 0:
            raise ValueError("give encoder_layers or decoder_layers (or both)")
        if self.inputs == "tokens" and self.vocab_size == 0:
            raise ValueError("inputs 'tokens' needs vocab_size")
        if self.inputs == "tokens" and self.positions == "learned" and self.max_positions is None:
            raise ValueError("learned positions for tokens need max_positions (the sequence length)")
        if self.inputs == "patches" and self.image_size % self.patch_size:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}"
            )
        if self.head == "classifier" and self.num_labels == 0:
            raise ValueError("a classifier head needs num_labels")
        if self.head == "lm" and self.vocab_size == 0:
            raise ValueError("an LM head needs vocab_size")
        return self


class Term(BaseModel):
    component: Component
    where: str = Field(description="embeddings, encoder.0, decoder.3, final, head...")
    what: str
    formula: str
    parameters: int


class AnalyticCount(BaseModel):
    breakdown: ParameterBreakdown
    terms: list[Term] = Field(description="Every count that adds up to the total, with its formula.")
    kv_cache: KVCache | None = Field(description="Decoders: the self-attention KV cache at float16.")
    conventions: str


def count_parameters(request: CountRequest) -> AnalyticCount:
    """The breakdown of the transformer `request` describes (see the module docstring)."""
    r, d = request, request.d_model
    terms: list[Term] = []

    def add(component: Component, where: str, what: str, formula: str, n: int) -> None:
        terms.append(Term(component=component, where=where, what=what, formula=formula, parameters=n))

    norm, norm_formula = (2 * d, "2d") if r.norm_bias else (d, "d")
    if r.inputs == "tokens":
        add("embeddings", "embeddings", "token embedding", f"V d = {r.vocab_size} x {d}", r.vocab_size * d)
        positions = r.max_positions or 0
    else:
        p, c = r.patch_size, r.channels
        add(
            "embeddings",
            "embeddings",
            "patch embedding",
            f"C P^2 d + d = {c} x {p}^2 x {d} + {d}",
            c * p * p * d + d,
        )
        patches = (r.image_size // p) ** 2
        if r.cls_token:
            add("embeddings", "embeddings", "[CLS] token", f"d = {d}", d)
        positions = patches + int(r.cls_token)
    if r.token_types:
        add(
            "embeddings",
            "embeddings",
            "token-type embedding",
            f"types d = {r.token_types} x {d}",
            r.token_types * d,
        )
    if r.positions == "learned":
        add(
            "positional", "embeddings", "learned positions", f"positions d = {positions} x {d}", positions * d
        )
    if r.embedding_norm:
        add("normalisation", "embeddings", "embedding norm", f"{norm_formula} = {norm}", norm)
    both = r.encoder_layers > 0 and r.decoder_layers > 0
    cross = both if r.cross_attention is None else r.cross_attention
    for stack, count in (("encoder", r.encoder_layers), ("decoder", r.decoder_layers)):
        blocks = ["self-attention"] + (["cross-attention"] if stack == "decoder" and cross else [])
        norms = r.norms_per_layer + (1 if stack == "decoder" and cross else 0)
        for i in range(count):
            for block in blocks:
                add("attention", f"{stack}.{i}", block, *_attention(r))
            add("feed_forward", f"{stack}.{i}", "feed-forward", *_feed_forward(r))
            if norms:
                add(
                    "normalisation",
                    f"{stack}.{i}",
                    f"{norms} norms",
                    f"{norms} x {norm_formula} = {norms * norm}",
                    norms * norm,
                )
        if count and r.final_norm:
            add("normalisation", f"{stack}.final", "final norm", f"{norm_formula} = {norm}", norm)
    if r.pooler:
        add("head", "head", "pooler", f"d^2 + d = {d}^2 + {d}", d * d + d)
    if r.head == "classifier":
        add(
            "head",
            "head",
            "classifier",
            f"d L + L = {d} x {r.num_labels} + {r.num_labels}",
            d * r.num_labels + r.num_labels,
        )
    elif r.head == "lm" and not r.tied_embeddings:
        add("head", "head", "LM head (untied)", f"V d = {r.vocab_size} x {d}", r.vocab_size * d)
    breakdown = breakdown_of([(_as_name(t.where), t.component, t.parameters) for t in terms])
    kv = None
    if r.decoder_layers:
        figures = _decoder_figures(r)
        kv = kv_cache(figures, "float16", r.context_length or r.max_positions, r.batch_size)
    return AnalyticCount(breakdown=breakdown, terms=terms, kv_cache=kv, conventions=_conventions(r))


def _attention(r: CountRequest) -> tuple[str, int]:
    d, kv = r.d_model, (r.kv_heads or r.heads) * (r.d_model // r.heads)
    weights = 2 * d * d + 2 * d * kv
    biases = (d + 2 * kv if r.qkv_bias else 0) + (d if r.out_bias else 0)
    shape = f"4 d^2 = 4 x {d}^2" if kv == d else f"2 d^2 + 2 d g d/h = 2 x {d}^2 + 2 x {d} x {kv}"
    return (shape + (f" + {biases} biases" if biases else ""), weights + biases)


def _feed_forward(r: CountRequest) -> tuple[str, int]:
    d, f = r.d_model, r.d_ff
    biases = f + d if r.ffn_bias else 0
    return (f"2 d f = 2 x {d} x {f}" + (f" + f + d = {f} + {d}" if biases else ""), 2 * d * f + biases)


def _as_name(where: str) -> str:
    # Named like an instantiated parameter ("encoder.0" -> "encoder.layers.0.x"), so that the one
    # breakdown_of finds the same layers in both counts; the rest stays outside layers.
    stack, _, rest = where.partition(".")
    return f"{stack}.layers.{rest}.x" if rest.isdigit() else where


def _decoder_figures(r: CountRequest) -> ModelFigures:
    return ModelFigures(
        part="decoder", model_type=None, layers=r.decoder_layers, heads=r.heads, kv_heads=r.kv_heads or r.heads,
        d_model=r.d_model, d_ff=r.d_ff, head_dim=r.d_model // r.heads, vocab_size=r.vocab_size or None,
        context_length=r.max_positions, image_size=None, patch_size=None, channels=None, patches=None,
        sequence_length=None,
    )  # fmt: skip


def _conventions(r: CountRequest) -> str:
    def yes(flag: bool) -> str:
        return "with" if flag else "without"

    return (
        f"{r.positions} positions; attention {yes(r.qkv_bias)} q/k/v biases and {yes(r.out_bias)} an output bias; "
        f"feed-forward {yes(r.ffn_bias)} biases; {r.norms_per_layer} norms a layer, each "
        f"{'2d (LayerNorm)' if r.norm_bias else 'd (RMSNorm)'}; {yes(r.embedding_norm)} an embedding norm; "
        f"{yes(r.final_norm)} a final norm; head {r.head}"
        + (f" ({'tied' if r.tied_embeddings else 'untied'})" if r.head == "lm" else "")
    )
