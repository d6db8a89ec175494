"""Request and result models of generate_text: the tool's input and output schema.

Import-light on purpose: the server builds tool schemas from these at start-up.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from genai_mcp.tools.models.adapted import AdapterRef

__all__ = [
    "MAX_PENALTY",
    "MAX_STOP_CHARS",
    "MAX_TEMPERATURE",
    "MIN_PENALTY",
    "MIN_TEMPERATURE",
    "PLAIN_CHAT_TEMPLATE",
    "ChatMessage",
    "FinishReason",
    "GenerateTextRequest",
    "GenerateTextResult",
    "PromptFormat",
]

FinishReason = Literal["length", "stop", "eos", "cancelled"]
PromptFormat = Literal["text", "chat_template", "plain_chat"]
MAX_STOP_CHARS = 200
# The lower bounds keep scaled logits finite in float32 (a logit of 10 / 1e-45 is inf, and the
# sampling distribution turns NaN); the upper ones lie far beyond any useful value.
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-3, 100.0
MIN_PENALTY, MAX_PENALTY = 0.01, 100.0
# The house GPT-2's chat template (its tokenizer_config.json; scripts/train_gpt2.py writes it): a base
# model was never tuned on chat markers, so the chat is shown as the plain 'role: content' lines it has
# seen in text, the same rendering generate_text falls back to for tokenizers without a template.
PLAIN_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerateTextRequest(BaseModel):
    """A prompt (or a chat) and how to continue it."""

    prompt: str | None = Field(
        None, min_length=1, description="Text to continue. Give either prompt or messages, not both."
    )
    messages: list[ChatMessage] | None = Field(
        None,
        min_length=1,
        description=(
            "A chat to answer, as {role: system|user|assistant, content} items. Rendered with the "
            "tokenizer's chat template when it has one, else as 'role: content' lines followed by "
            "'assistant:' (the result's prompt_format says which)."
        ),
    )
    max_new_tokens: int = Field(
        64,
        ge=1,
        description=(
            "Most tokens to generate (server cap: {text.max_new_tokens}). Generation "
            "also ends, with finish_reason 'length', when prompt and completion fill the model's context."
        ),
    )
    temperature: float = Field(
        1.0,
        ge=0,
        le=MAX_TEMPERATURE,
        description=(
            f"Softmax temperature: 0 = greedy (deterministic); otherwise {MIN_TEMPERATURE} to "
            f"{MAX_TEMPERATURE}, higher = more random."
        ),
    )
    top_k: int = Field(
        50, ge=0, description="Sample among the k most likely tokens only; 0 = no limit. Unused when greedy."
    )
    top_p: float = Field(
        1.0,
        gt=0,
        le=1,
        description=(
            "Nucleus sampling: sample among the most likely tokens whose probabilities add up to top_p; "
            "1 = no limit. Unused when greedy."
        ),
    )
    repetition_penalty: float = Field(
        1.0,
        ge=MIN_PENALTY,
        le=MAX_PENALTY,
        description=(
            "Tokens already in the prompt or completion get their logit divided by this (multiplied when "
            "negative), as in CTRL and transformers; 1 = off, above 1 discourages repeats."
        ),
    )
    seed: int | None = Field(
        None,
        ge=0,
        le=2**63 - 1,
        description=(
            "Seed for sampling: the same seed, model and arguments give the same text. Null: a fresh "
            "random seed, reported in the result."
        ),
    )
    stop: list[Annotated[str, Field(min_length=1, max_length=MAX_STOP_CHARS)]] = Field(
        default_factory=list,
        description=(
            "Stop as soon as the completion contains one of these strings; the returned text ends just "
            "before it (the stop string itself is not included). At most {text.max_stop_strings}, "
            f"{MAX_STOP_CHARS} characters each."
        ),
    )
    truncate_prompt: bool = Field(
        False,
        description=(
            "When the prompt does not fit the model's context, keep its last tokens (room is left for "
            "max_new_tokens, or at least one token) instead of refusing; prompt_truncated_tokens says how "
            "many were dropped."
        ),
    )
    use_cache: bool = Field(
        True,
        description=(
            "Reuse attention keys/values between steps (KV cache): the same tokens, much faster. False "
            "recomputes the whole sequence at every step."
        ),
    )
    model: str | None = Field(
        None,
        description=(
            "A causal LM (any AutoModelForCausalLM + AutoTokenizer checkpoint): {models.text_about}, a "
            "local directory, or a Hugging Face hub id in the local cache."
        ),
    )
    adapter: AdapterRef = None

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> GenerateTextRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of prompt (text to continue) or messages (a chat)")
        if 0 < self.temperature < MIN_TEMPERATURE:
            # logits / temperature would overflow to inf and make the sampling distribution NaN
            raise ValueError(
                f"temperature {self.temperature} is too small to sample with: use 0 for greedy decoding, "
                f"or at least {MIN_TEMPERATURE}"
            )
        return self


class GenerateTextResult(BaseModel):
    text: str = Field(description="The completion only: no prompt, no end-of-sequence token, no stop string.")
    finish_reason: FinishReason = Field(
        description=(
            "length: max_new_tokens or the model's context reached; stop: a stop string appeared; eos: the "
            "model ended the text; cancelled: the caller stopped it."
        )
    )
    stop_string: str | None = Field(None, description="The stop string that ended the text, if one did.")
    prompt_tokens: int = Field(description="Tokens in the prompt as the model saw it (after any template).")
    completion_tokens: int = Field(
        description="Tokens generated, counting an end-of-sequence token or the one that completed a stop string."
    )
    seconds: float = Field(description="Wall time of prefill and decoding, seconds (model loading excluded).")
    tokens_per_second: float = Field(description="completion_tokens / seconds.")
    model: str = Field(description="The model that generated the text.")
    seed: int | None = Field(description="The seed sampling used (given or drawn); null when greedy.")
    prompt_format: PromptFormat = Field(
        description=(
            "text: the prompt as given; chat_template: messages rendered by the tokenizer's chat template; "
            "plain_chat: messages as 'role: content' lines and 'assistant:' (the tokenizer has no template)."
        )
    )
    use_cache: bool = Field(description="Whether the KV cache was used.")
    prompt_truncated_tokens: int = Field(
        0, description="Prompt tokens dropped from the start to fit the context."
    )
