"""Helpers shared by the test modules; conftest.py files keep only fixtures, which call these.

    processes    real `genai-mcp serve` processes (stdio and HTTP), ports, pids, loaded libraries
    results      reading tool results, and running an in-memory Client against a server
    images       encoded test images: PNG/GIF bytes, base64, a header-only PNG, an animated GIF, noise
    mcp_http     MCP by hand over HTTP (httpx2): a 2025-11-25 session's headers, SSE events of a response
    proxy        a TCP proxy on 127.0.0.1 that cuts one connection mid-response
    checkpoints  tiny randomly initialised checkpoints: a DDPM pipeline, a cross-encoder
    host_entries config entries for the host's tests (the callbacks test server, `genai-mcp serve`)
    engine       a real inference engine: `transformers serve` with the house GPT-2 on 127.0.0.1
    npm          npm packages of the end-to-end tests, installed exactly as locked (npm ci)
    fake_openai  an OpenAI-compatible endpoint on 127.0.0.1 for what a real engine cannot be made to do
    workspace    things a server lists: a RAG collection, an output image, a finished LoRA job,
                 a Hugging Face cache of model repositories

Test modules import from here (`from tests.helpers.results import ok`), never from a conftest
or from another test module.
"""
