"""MCP tools for vision: classify_image, zero_shot_classify and describe_image.

describe_image asks the client's LLM for one sentence through sampling, written as a `Resolve(...)`
parameter so it works in both protocol eras. Sampling is optional: what happens when the client
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

# No `from __future__ import annotations` here: the SDK evaluates describe_image's annotations against
# this module's globals, and its Resolve(...) markers name resolvers that are local to register().

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context, Resolve, Sample
from mcp.types import CreateMessageResult, ToolAnnotations
from pydantic import BaseModel, Field

from genai_mcp.server.adapters import register_model_tool, tool_errors
from genai_mcp.server.client_llm import SamplingSkipped, SamplingStatus, ask_client_llm, read_reply
from genai_mcp.server.rounds import RoundCache
from genai_mcp.server.services import Services
from genai_mcp.tools import vision
from genai_mcp.tools.images import ImagePolicy
from genai_mcp.tools.vision.schemas import CandidateLabel, ModelId, Templates

__all__ = ["DescribeResult", "DescriptionStatus", "image_policy", "register"]

_DESCRIPTION_MAX_TOKENS = 120

DescriptionStatus = SamplingStatus


class DescribeResult(BaseModel):
    classification: vision.ClassifyResult
    zero_shot: vision.ZeroShotResult
    description: str | None = Field(
        description="One sentence from the client's LLM, grounded in the two results; null if none."
    )
    description_status: DescriptionStatus = Field(
        description=(
            "produced; client_cannot_sample (no sampling capability); declined (the client refused or "
            "failed the sampling request); no_back_channel (this connection cannot carry the request); "
            "unusable_reply (the reply was not text, or empty)"
        )
    )
    description_note: str = Field(description="Why, in words, and which model wrote the description.")


def image_policy(services: Services) -> ImagePolicy:
    """The image-input policy from the server's settings; refusals name the variable to change."""
    settings, outputs = services.settings, services.outputs

    def read_output(uri: str) -> bytes:
        return outputs.read(outputs.name_from_uri(uri))

    return ImagePolicy(
        roots=tuple(settings.roots),
        max_bytes=settings.max_image_bytes,
        max_pixels=settings.max_image_pixels,
        allow_url_fetch=settings.allow_url_fetch,
        resolve_output=read_output,
        bytes_setting="GENAI_MCP_MAX_IMAGE_BYTES",
        pixels_setting="GENAI_MCP_MAX_IMAGE_PIXELS",
        roots_setting="GENAI_MCP_ROOTS",
        url_setting="GENAI_MCP_ALLOW_URL_FETCH",
    )


def register(server: MCPServer[Any], services: Services) -> None:
    settings = services.settings
    policy = image_policy(services)
    # Hub downloads and URL fetches reach outside this machine only when the operator allows them.
    open_world = settings.allow_downloads or settings.allow_url_fetch
    pure = ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=open_world
    )

    def classify_image(request: vision.ClassifyRequest) -> vision.ClassifyResult:
        return vision.classify_images(
            request,
            policy=policy,
            max_batch=settings.max_batch,
            max_batch_setting="GENAI_MCP_MAX_BATCH",
            adapters=services.adapters,
        )

    def zero_shot_classify(request: vision.ZeroShotRequest) -> vision.ZeroShotResult:
        return vision.zero_shot_classify(
            request, policy=policy, max_batch=settings.max_batch, max_batch_setting="GENAI_MCP_MAX_BATCH"
        )

    register_model_tool(
        server,
        classify_image,
        vision.ClassifyRequest,
        vision.ClassifyResult,
        name="classify_image",
        title="Classify images (ViT or any image classifier)",
        description=(
            "Top-k labels with softmax probabilities for one image or a batch (one forward pass), from any "
            "Hugging Face image-classification checkpoint; default house/vit-digits (handwritten digits "
            f"0-9, bright ink on dark). At most {settings.max_batch} images per call. Returns the model "
            "used and timing in ms (load, decode, preprocess, forward)."
        ),
        annotations=pure,
    )
    register_model_tool(
        server,
        zero_shot_classify,
        vision.ZeroShotRequest,
        vision.ZeroShotResult,
        name="zero_shot_classify",
        title="Zero-shot classification (CLIP)",
        description=(
            "Probability of every candidate label for each image with a CLIP-style model: softmax over the "
            "labels of logit_scale * cosine(image, text); several templates are averaged (prompt "
            "ensembling). Default model house/clip-digits (digits; try labels 'zero'..'nine' with the "
            "template 'a photo of the digit {}'). Returns the best label per image and timing in ms."
        ),
        annotations=pure,
    )

    analyses: RoundCache[vision.ImageAnalysis] = RoundCache()

    def analysis_for(
        image: str,
        labels: list[str] | None,
        templates: list[str],
        top_k: int,
        classifier_model: str | None,
        zero_shot_model: str | None,
        ctx: Context[Any],
    ) -> vision.ImageAnalysis:
        # A resolver: runs (in a worker thread) before the tool body, with the tool's arguments by name.
        with tool_errors():
            request = vision.DescribeRequest(
                image=image,
                labels=labels,
                templates=templates,
                top_k=top_k,
                classifier_model=classifier_model,
                zero_shot_model=zero_shot_model,
            )
            return analyses.get_or_compute(
                request.model_dump(),
                lambda: vision.analyse_image(request, policy=policy),
                retry=ctx.request_state is not None,
            )

    async def description_for(
        analysis: Annotated[vision.ImageAnalysis, Resolve(analysis_for)], ctx: Context[Any]
    ) -> Sample | CreateMessageResult | SamplingSkipped:
        system, user = vision.description_prompt(analysis)
        return await ask_client_llm(
            ctx,
            user=user,
            system=system,
            max_tokens=_DESCRIPTION_MAX_TOKENS,
            nothing_made="no description was produced",
        )

    @server.tool(
        name="describe_image",
        title="Describe an image (classifiers + the client's LLM)",
        description=(
            "Runs classify_image and zero_shot_classify on one image, then asks the client's LLM (MCP "
            "sampling) for one sentence describing the image, grounded only in those results. If the "
            "client cannot or will not sample, the classifications still come back, with description "
            "null and description_status saying why."
        ),
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def describe_image(
        image: Annotated[str, Field(min_length=1, description=f"One image: {vision.IMAGE_DOC}.")],
        analysis: Annotated[vision.ImageAnalysis, Resolve(analysis_for)],
        reply: Annotated[CreateMessageResult | SamplingSkipped, Resolve(description_for)],
        labels: Annotated[
            list[CandidateLabel] | None,
            Field(
                min_length=1,
                max_length=vision.MAX_LABELS,
                description="Candidate labels for the zero-shot model; null: the classifier's label names.",
            ),
        ] = None,
        templates: Templates = [vision.DEFAULT_TEMPLATE],  # noqa: B006  # copied by validation
        top_k: Annotated[int, Field(ge=1, le=vision.MAX_TOP_K, description="Classifier labels shown.")] = 3,
        classifier_model: ModelId = None,
        zero_shot_model: ModelId = None,
    ) -> DescribeResult:
        description, status, note = read_reply(reply)
        return DescribeResult(
            classification=analysis.classification,
            zero_shot=analysis.zero_shot,
            description=description,
            description_status=status,
            description_note=note,
        )
