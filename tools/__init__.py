"""The genai-mcp domain: models, images, text, diffusion, metrics. Knows nothing about MCP."""
