"""MCP tools for vision: classify_image, zero_shot_classify and describe_image.

describe_image asks the client's LLM for one sentence through sampling, a resolver returning
`Sample` so it works in both protocol eras. Sampling is optional: what happens when the client
cannot or will not sample (measured with mcp 2.3's Client, in memory and over stdio):

    client has no sampling callback (either era)  -> the resolver sees no `sampling` capability and
                                                     skips the request: description null, status
                                                     "client_cannot_sample"
    2025-11-25 ("legacy"), callback refuses        -> the client answers with a JSON-RPC error (its
      (returns ErrorData) or raises                  ErrorData, or code 0 with the exception text);
                                                     caught here: status "declined"
    2025-11-25 over a connection with no way back  -> status "no_back_channel" (stateless HTTP)
      to the client
    2026-07-28, callback refuses or raises         -> the SDK's Client aborts the whole call on its own
                                                     side (call_tool raises MCPError, or an
                                                     ExceptionGroup holding the callback's exception);
                                                     the server never hears of it, so nothing here
                                                     can turn it into a partial result
    reply that is not text, or is empty            -> status "unusable_reply"

In the 2026-07-28 era the resolvers run again on the retry round that carries the client's
answer; the analysis is kept for that round (server/rounds.py), so the classifiers run once per call.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, Sample
from mcp.types import CreateMessageResult
from pydantic import BaseModel, Field

from genai_mcp.server import apps
from genai_mcp.server.adapters import Resolver, ToolPublisher, ToolSpec
from genai_mcp.server.annotations import PURE, VARIES
from genai_mcp.server.client_llm import SamplingSkipped, SamplingStatus, ask_client_llm, read_reply
from genai_mcp.server.limits import build_limits
from genai_mcp.server.rounds import RoundCache
from genai_mcp.server.state import ServerState
from genai_mcp.tools import vision

__all__ = ["DescribeResult", "register"]

_DESCRIPTION_MAX_TOKENS = 120


class DescribeResult(BaseModel):
    classification: vision.ClassifyResult
    zero_shot: vision.ZeroShotResult
    description: str | None = Field(
        description="One sentence from the client's LLM, grounded in the two results; null if none."
    )
    description_status: SamplingStatus = Field(
        description=(
            "produced; client_cannot_sample (no sampling capability); declined (the client refused or "
            "failed the sampling request); no_back_channel (this connection cannot carry the request); "
            "unusable_reply (the reply was not text, or empty)"
        )
    )
    description_note: str = Field(description="Why, in words, and which model wrote the description.")


CLASSIFY = ToolSpec(
    name="classify_image",
    title="Classify images (ViT or any image classifier)",
    description=(
        "Top-k labels with softmax probabilities for one image or a batch (one forward pass), from any "
        "Hugging Face image-classification checkpoint; default {models.classifier_about}. At most "
        "{vision.max_batch} images per call. Returns the model used and "
        "timing in ms (load, decode, preprocess, forward)."
    ),
    request=vision.ClassifyRequest,
    result=vision.ClassifyResult,
    annotations=PURE,
    view=apps.CLASSIFICATION,
)
ZERO_SHOT = ToolSpec(
    name="zero_shot_classify",
    title="Zero-shot classification (CLIP, SigLIP)",
    description=(
        "Probability of every candidate label for each image with a CLIP-style model: softmax over the "
        "labels of logit_scale * cosine(image, text); several templates are averaged (prompt ensembling). "
        "With a SigLIP-style model (a logit_bias), each label's own sigmoid(logit_scale * cosine + "
        "logit_bias) instead: independent probabilities, not summing to 1; `normalization` says which. "
        "Default model {models.zero_shot_about}. Returns the best label per image and timing in ms."
    ),
    request=vision.ZeroShotRequest,
    result=vision.ZeroShotResult,
    annotations=PURE,
    view=apps.CLASSIFICATION,
)
DESCRIBE = ToolSpec(
    name="describe_image",
    title="Describe an image (classifiers + the client's LLM)",
    description=(
        "Runs classify_image and zero_shot_classify on one image, then asks the client's LLM (MCP "
        "sampling) for one sentence describing the image, grounded only in those results. If the "
        "client cannot or will not sample, the classifications still come back, with description "
        "null and description_status saying why."
    ),
    request=vision.DescribeRequest,
    result=DescribeResult,
    annotations=VARIES,
    view=apps.CLASSIFICATION,
)


def register(tools: ToolPublisher, state: ServerState) -> None:
    s, policy, models, batcher = state.settings, state.images, state.models, state.batcher
    limits = build_limits(vision.VisionLimits, s)
    # Hub downloads and URL fetches reach outside this machine only when the operator allows them.
    open_world = s.allow_downloads or s.allow_url_fetch

    def classify_image(request: vision.ClassifyRequest) -> vision.ClassifyResult:
        return vision.classify_images(
            request, policy=policy, limits=limits, adapters=state.adapters, models=models, batcher=batcher
        )

    def zero_shot_classify(request: vision.ZeroShotRequest) -> vision.ZeroShotResult:
        return vision.zero_shot_classify(
            request, policy=policy, limits=limits, models=models, batcher=batcher
        )

    tools.add(CLASSIFY.opening(open_world), classify_image)
    tools.add(ZERO_SHOT.opening(open_world), zero_shot_classify)
    _register_describe(tools, state)


def _register_describe(tools: ToolPublisher, state: ServerState) -> None:
    analyses: RoundCache[vision.ImageAnalysis] = RoundCache()

    def analysis(request: vision.DescribeRequest, ctx: Context[Any]) -> vision.ImageAnalysis:
        return analyses.get_or_compute(
            request.model_dump(),
            lambda: vision.analyse_image(request, policy=state.images, models=state.models),
            retry=ctx.request_state is not None,
        )

    async def reply(
        request: vision.DescribeRequest, ctx: Context[Any], analysis: vision.ImageAnalysis
    ) -> Sample | CreateMessageResult | SamplingSkipped:
        system, user = vision.description_prompt(analysis)
        nothing = "no description was produced"
        return await ask_client_llm(
            ctx, user=user, system=system, max_tokens=_DESCRIPTION_MAX_TOKENS, nothing_made=nothing
        )

    async def describe_image(
        request: vision.DescribeRequest,
        ctx: Context[Any],
        analysis: vision.ImageAnalysis,
        reply: CreateMessageResult | SamplingSkipped,
    ) -> DescribeResult:
        description, status, note = read_reply(reply)
        return DescribeResult(
            classification=analysis.classification,
            zero_shot=analysis.zero_shot,
            description=description,
            description_status=status,
            description_note=note,
        )

    resolvers = [Resolver("analysis", analysis), Resolver("reply", reply, needs=("analysis",))]
    # The description comes from the client's LLM: outside this server, whatever the settings.
    tools.add_resolving(DESCRIBE.opening(True), describe_image, resolvers)
