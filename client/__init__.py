"""genai-mcp host: connects to many MCP servers and answers their requests."""
