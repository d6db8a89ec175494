"""The one progress and cancellation contract of long work in genai_mcp.tools.

Every long entry point (generate_text, perplexity, sample_images, denoise_image, index_documents,
LoRA training) takes a `progress: Progress | None = None` as its second positional parameter and
calls it once per step: a generated token, a scored window, a denoising step, an embedding batch,
an optimizer step or held-out batch. The call comes from the thread doing the work, so a server
can forward it to a remote caller and cancel from another thread.

Cancelling: the callback raises WorkCancelledError (tools/errors.py). The work stops right there,
within one step, and the error propagates, except where an entry point documents a partial result
(generate_text returns the text so far with finish_reason "cancelled"). Nothing half-done is saved.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Progress"]


class Progress(Protocol):
    """`progress(done, total, message)`: `done` steps of `total` (None when unknown) are finished.

    `message` is for people ("step 3/50 (t=940)", "step 12/200, loss 2.3141"); nothing should
    parse it. Called once per step from the worker thread; may raise WorkCancelledError to stop.
    """

    def __call__(self, done: int, total: int | None, message: str | None = None) -> None: ...
