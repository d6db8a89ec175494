"""genai-mcp server: the MCP face of genai_mcp.tools."""
