"""Assemble the house GPT-2's text corpus from documentation that ships with Python.

    .venv/bin/python scripts/build_pydocs_corpus.py [--out scripts/data/pydocs-corpus.txt.gz]

Sources, in this order: every `pydoc_data.topics` entry (sorted by topic), then the docstrings of
the pure-Python standard library (read with `ast`, so nothing is executed; files sorted by path;
module, class, function and method docstrings; IDLE, lib2to3 and the demos left out), then those of the built-in and C-extension
modules (imported and inspected; names sorted). Test packages are left out. Each docstring becomes
one document: a header line naming the object (with its signature where known), a blank line, and
the cleaned docstring. Whitespace is normalized (tabs expanded, common indentation removed, trailing
spaces and control characters dropped, runs of blank lines collapsed), and a docstring whose body
was already seen is dropped, so the many identical `__eq__`-style docstrings appear once.

The text differs between Python versions, which is why the snapshot is committed: training reads
the snapshot, not the running interpreter. Output: gzip (mtime 0) of the documents joined by
`RECORD_SEPARATOR`; reading and the train/validation split live in genai_mcp.tools.house.corpus.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import importlib
import inspect
import re
import sys
import sysconfig
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from genai_mcp.tools.house.corpus import RECORD_SEPARATOR, SNAPSHOT_PATH, split_corpus

# Directories under the stdlib whose docstrings are test scaffolding, vendored wheels or
# third-party packages rather than documentation.
SKIP_DIRS = {"site-packages", "test", "tests", "idle_test", "__pycache__", "_bundled", "__phello__"}
# Top-level packages left out: the IDLE editor's internals, the deprecated 2to3 fixers (mostly
# Python 2 snippets), demo scripts and the topics module itself (its text comes in as topics).
SKIP_PACKAGES = {"idlelib", "lib2to3", "turtledemo", "pydoc_data"}
MIN_BODY_CHARS = 24  # shorter docstrings ("Return self==value.") carry almost no language
MAX_SIGNATURE_CHARS = 160  # some defaults are long literals; the header is a label, not code

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BLANK_RUNS = re.compile(r"\n{3,}")


def normalize(text: str) -> str:
    """Docstring-style cleanup: dedented, no control characters, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = inspect.cleandoc(text.expandtabs(8))
    text = _CONTROL.sub("", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _stdlib_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(dotted module name, path) of each pure-Python stdlib module, sorted by path."""
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS or part.startswith("config-") for part in rel.parts[:-1]):
            continue
        if rel.parts[0].removesuffix(".py") in SKIP_PACKAGES:
            continue
        if rel.parts[-1].startswith("test_") or "-" in rel.stem:
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _signature(args: ast.arguments) -> str:
    sig = ast.unparse(args)
    return sig if len(sig) <= MAX_SIGNATURE_CHARS else sig[: MAX_SIGNATURE_CHARS - 4] + " ..."


def _ast_docstrings(modname: str, tree: ast.Module) -> Iterator[tuple[str, str]]:
    """(header, raw docstring) for the module and its top-level and class-level definitions."""
    if doc := ast.get_docstring(tree, clean=False):
        yield f"module {modname}", doc

    def walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, str]]:
        for node in body:
            if isinstance(node, ast.ClassDef):
                bases = ", ".join(ast.unparse(b) for b in node.bases)
                if doc := ast.get_docstring(node, clean=False):
                    yield f"class {prefix}{node.name}" + (f"({bases})" if bases else ""), doc
                yield from walk(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                doc := ast.get_docstring(node, clean=False)
            ):
                yield f"{prefix}{node.name}({_signature(node.args)})", doc

    yield from walk(tree.body, f"{modname}.")


def _compiled_module_names() -> list[str]:
    names = set(sys.builtin_module_names)
    dynload = Path(sysconfig.get_paths()["platstdlib"]) / "lib-dynload"
    names.update(p.name.split(".")[0] for p in dynload.glob("*.so"))
    return sorted(n for n in names if not n.startswith("_test") and n != "__main__")


def _text_signature(obj: object) -> str:
    sig = getattr(obj, "__text_signature__", None)
    if not isinstance(sig, str):
        return "(...)"
    sig = sig.replace("($module, ", "(").replace("($self, ", "(").replace("($type, ", "(")
    return sig.replace("($module)", "()").replace("($self)", "()").replace("($type)", "()")


def _compiled_docstrings(modname: str) -> Iterator[tuple[str, str]]:
    """(header, raw docstring) for a built-in / C-extension module, its classes and functions."""
    try:
        module = importlib.import_module(modname)
    except ImportError:  # e.g. _tkinter without libtk: its docs are not worth a dependency
        return
    if isinstance(module.__doc__, str):
        yield f"module {modname}", module.__doc__
    for name, obj in sorted(vars(module).items()):
        if getattr(obj, "__module__", None) != modname:
            continue
        if inspect.isclass(obj):
            if isinstance(obj.__doc__, str):
                yield f"class {modname}.{name}", obj.__doc__
            for attr, member in sorted(vars(obj).items()):
                doc = getattr(member, "__doc__", None)
                if callable(member) and isinstance(doc, str):
                    yield f"{modname}.{name}.{attr}{_text_signature(member)}", doc
        elif inspect.isbuiltin(obj) and isinstance(obj.__doc__, str):
            yield f"{modname}.{name}{_text_signature(obj)}", obj.__doc__


def build_documents() -> list[str]:
    """The corpus documents for the running Python, deterministic for a given installation."""
    import pydoc_data.topics

    docs: list[str] = []
    seen: set[str] = set()

    def add(header: str | None, raw: str) -> None:
        body = normalize(raw)
        if len(body) < MIN_BODY_CHARS or body in seen:
            return
        seen.add(body)
        docs.append(f"{header}\n\n{body}" if header else body)

    for _topic, text in sorted(pydoc_data.topics.topics.items()):
        add(None, text)  # topics start with their own title line
    root = Path(sysconfig.get_paths()["stdlib"])
    for modname, path in _stdlib_files(root):
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError):  # lib2to3 fixtures and the like: not Python 3 source
            continue
        for header, raw in _ast_docstrings(modname, tree):
            add(header, raw)
    for modname in _compiled_module_names():
        for header, raw in _compiled_docstrings(modname):
            add(header, raw)
    return docs


def write_snapshot(docs: list[str], out: Path) -> None:
    """Gzip the documents deterministically (no timestamp, no file name in the header)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    data = RECORD_SEPARATOR.join(docs).encode("utf-8")
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(data)
    tmp.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SNAPSHOT_PATH)
    args = parser.parse_args()
    docs = build_documents()
    write_snapshot(docs, args.out)
    train, val = split_corpus(docs)
    chars = sum(map(len, docs))
    print(
        f"python {sys.version.split()[0]}: {len(docs)} documents, {chars} characters, "
        f"{sum(len(d.split()) for d in docs)} words; train {len(train)} docs, "
        f"validation {len(val)} docs ({sum(map(len, val))} characters); "
        f"wrote {args.out} ({args.out.stat().st_size} bytes)"
    )


if __name__ == "__main__":
    main()
