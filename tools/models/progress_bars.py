"""The model libraries' own console progress bars, switched off for a whole process.

transformers ("Loading weights"), diffusers ("Loading pipeline components...") and huggingface_hub
(downloads) draw tqdm bars on stderr. A process that reports loads itself (the server, through its
log records; a host) turns them off with `disable_progress_bars()`; it is process-wide by nature
(the libraries keep one switch each), so only a process's own set-up calls it, never a loader.

    huggingface_hub   HF_HUB_DISABLE_PROGRESS_BARS, read at import (transformers takes its default
                      from it); disable_progress_bars() once imported
    transformers      utils.logging.disable_progress_bar() once imported
    diffusers         no variable; its bars are tqdm's, whose default `disable` TQDM_DISABLE sets;
                      utils.logging.disable_progress_bar() once imported
"""

from __future__ import annotations

import os
import sys

__all__ = ["QUIET", "disable_progress_bars"]

QUIET = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"}


def disable_progress_bars() -> None:
    """No console progress bars from the model libraries in this process, imported yet or not."""
    os.environ.update(QUIET)
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils.tqdm import disable_progress_bars as hub_off

        hub_off()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    if "diffusers" in sys.modules:
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()
