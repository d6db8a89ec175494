// genai-mcp seen through the official TypeScript MCP client (@modelcontextprotocol/sdk).
//
//   node check.mjs stdio <command> [args...]   spawn the server (it gets this script's environment)
//   node check.mjs http <url>                  streamable HTTP, bearer token from $MCP_TOKEN
//
// $CHECK_IMAGE is the base64 PNG the vision tools get. The script records what the client saw and
// prints it as one JSON object on stdout; tests/e2e/test_typescript_client.py asserts on it. It
// asserts nothing itself, so a failure reads as a difference in the test. A thrown error (the
// client refused a reply, a request timed out) is printed as {"error": ...} with exit status 1.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const TIMEOUT_MS = 90_000; // one request, a model load included, on 2 shared cores

function transportFor(kind, rest) {
  if (kind === 'stdio') {
    const [command, ...args] = rest;
    const env = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined));
    return new StdioClientTransport({ command, args, env, stderr: 'inherit' });
  }
  if (kind === 'http') {
    const headers = { Authorization: `Bearer ${process.env.MCP_TOKEN}` };
    return new StreamableHTTPClientTransport(new URL(rest[0]), { requestInit: { headers } });
  }
  throw new Error(`unknown transport ${kind}: use stdio or http`);
}

const textOf = (result) =>
  result.content
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');

async function main() {
  const [kind, ...rest] = process.argv.slice(2);
  const image = process.env.CHECK_IMAGE;
  const transport = transportFor(kind, rest);
  const seen = { transport: kind, events: [] };
  // The client hands the negotiated version to a transport that can take it (HTTP headers);
  // giving the stdio transport the same hook records it there too.
  const setVersion = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (version) => {
    seen.protocolVersion = version;
    setVersion?.(version);
  };

  const client = new Client({ name: 'genai-mcp-ts-check', version: '0' });
  let phase = 'connect';
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    const { level, logger, data } = n.params;
    seen.events.push({ event: 'log', phase, level, logger, data });
  });
  const options = { timeout: TIMEOUT_MS };
  const call = async (name, args) => {
    seen.events.push({ event: 'call', phase, name });
    const result = await client.callTool({ name, arguments: args }, undefined, options);
    seen.events.push({ event: 'result', phase, name, isError: result.isError ?? false });
    return result;
  };

  await client.connect(transport, options);
  try {
    seen.serverInfo = client.getServerVersion();
    seen.capabilities = client.getServerCapabilities();

    phase = 'tools';
    const tools = (await client.listTools(undefined, options)).tools; // also caches output schemas
    seen.tools = tools.map((t) => t.name);

    phase = 'info';
    seen.setLevelInfo = await client.setLoggingLevel('info', options);
    const classified = await call('classify_image', { image });
    seen.classify = { isError: classified.isError ?? false, structuredContent: classified.structuredContent };

    phase = 'error';
    seen.setLevelError = await client.setLoggingLevel('error', options);
    const zeroShot = await call('zero_shot_classify', { image, labels: ['zero', 'one'] });
    seen.zeroShot = { isError: zeroShot.isError ?? false, structuredContent: zeroShot.structuredContent };

    phase = 'misspelled';
    const misspelled = await call('classify_image', { image, topk: 1 });
    seen.misspelled = { isError: misspelled.isError ?? false, text: textOf(misspelled) };

    phase = 'prompts';
    seen.prompts = (await client.listPrompts(undefined, options)).prompts.map((p) => p.name);
    const prompt = await client.getPrompt(
      {
        name: 'evaluate_text',
        arguments: { candidates: 'the cat sat on the mat', references: 'a cat sat on the mat' },
      },
      options,
    );
    seen.prompt = prompt.messages.map((m) => ({ role: m.role, type: m.content.type, text: m.content.text }));

    phase = 'completions';
    seen.completion = (
      await client.complete(
        {
          ref: { type: 'ref/prompt', name: 'describe_an_image' },
          argument: { name: 'classifier_model', value: 'house/' },
        },
        options,
      )
    ).completion;

    phase = 'resources';
    seen.resources = (await client.listResources(undefined, options)).resources.map((r) => r.uri);

    if (kind === 'http') {
      // close() alone leaves the HTTP session open on the server; terminateSession() sends the DELETE
      // that ends it (and throws on an error status other than 405, 'not supported').
      seen.sessionId = transport.sessionId;
      await transport.terminateSession();
    }
  } finally {
    await client.close();
  }
  return seen;
}

try {
  process.stdout.write(JSON.stringify(await main()) + '\n');
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error?.stack ?? error) }) + '\n');
  process.exitCode = 1;
}
