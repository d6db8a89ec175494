"""The person at the keyboard: questions out, answers in, one conversation at a time.

Streams are injectable so a test (or a GUI) can drive the same code with real text.
"""

from __future__ import annotations

import sys
from typing import TextIO

import anyio

__all__ = ["Terminal"]


class Terminal:
    """Line-based prompts on `output` (default stderr, so stdout stays for results), answers from `input`.

    A lock serialises conversations: two servers asking at once get asked one after the other.
    """

    def __init__(self, input: TextIO | None = None, output: TextIO | None = None):
        self.input = input if input is not None else sys.stdin
        self.output = output if output is not None else sys.stderr
        self.lock = anyio.Lock()

    @property
    def interactive(self) -> bool:
        """Whether a person is (probably) there: the input is a terminal."""
        isatty = getattr(self.input, "isatty", None)
        return bool(isatty and isatty())

    def say(self, text: str = "") -> None:
        self.output.write(text + "\n")
        self.output.flush()

    async def ask(self, prompt: str) -> str | None:
        """One line typed after `prompt`, without its newline; None at end of input."""
        self.output.write(prompt)
        self.output.flush()
        # readline blocks; a worker thread keeps the event loop (and the other servers) running.
        line: str = await anyio.to_thread.run_sync(self.input.readline, abandon_on_cancel=True)
        if not line:
            return None
        return line.rstrip("\r\n")

    async def confirm(self, prompt: str, default: bool = False) -> bool:
        """A yes/no answer; an empty line gives `default`, end of input gives no."""
        hint = "[Y/n]" if default else "[y/N]"
        while True:
            answer = await self.ask(f"{prompt} {hint} ")
            if answer is None:
                return False
            answer = answer.strip().lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self.say("Please answer y or n.")
