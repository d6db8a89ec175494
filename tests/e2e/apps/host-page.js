// The browser half of the test host (bundled by render.mjs with esbuild): renders a tool's view in
// a sandboxed iframe through the extension's own host SDK, AppBridge, the way a chat client does.
// The MCP connection itself lives in the Node half; the page reaches the server through the
// functions Playwright exposes (hostReadResource, hostCallTool), so a view's tools/call and
// resources/read go View -> AppBridge -> host -> genai-mcp.
import {
  AppBridge,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
  getToolUiResourceUri,
} from "@modelcontextprotocol/ext-apps/app-bridge";

const HOST = { name: "genai-mcp-test-host", version: "1.0.0" };

// A host enforces the resource's declared CSP; ours declares no domain, so the frame may run its
// inline code and show data: images, and reach nothing.
function cspFor(declared = {}) {
  const domains = (list) => (list ?? []).join(" ");
  const resources = domains(declared.resourceDomains);
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${resources}`,
    `style-src 'unsafe-inline' ${resources}`,
    `img-src data: ${resources}`,
    `connect-src ${domains(declared.connectDomains) || "'none'"}`,
    `frame-src ${domains(declared.frameDomains) || "'none'"}`,
    `base-uri ${domains(declared.baseUriDomains) || "'none'"}`,
  ].join("; ");
}

const withCsp = (html, csp) =>
  html.replace(/<head>/i, `<head><meta http-equiv="Content-Security-Policy" content="${csp}">`);

/** Mounts `tool`'s view in slot `id` and hands it the call's input and result. */
window.mountView = async (id, { tool, input, result, theme }) => {
  const uri = getToolUiResourceUri(tool);
  if (!uri) throw new Error(`${tool.name} names no view`);
  const { contents } = await window.hostReadResource({ uri });
  const [content] = contents;
  if (content.mimeType !== RESOURCE_MIME_TYPE) throw new Error(`${uri} is ${content.mimeType}`);

  const slot = document.createElement("section");
  slot.id = id;
  slot.dataset.theme = theme;
  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");  // no allow-same-origin: the view is its own origin
  iframe.title = `${tool.name} view`;
  slot.append(iframe);
  document.body.append(slot);
  slot.scrollIntoView();  // as a chat does with a new result; Chromium renders no frame out of sight

  const bridge = new AppBridge(null, HOST, { serverTools: {}, serverResources: {}, logging: {} }, {
    hostContext: { theme, displayMode: "inline", platform: "web", toolInfo: { tool } },
  });
  bridge.oncalltool = (params) => window.hostCallTool(params);
  bridge.onreadresource = (params) => window.hostReadResource(params);
  bridge.addEventListener("sizechange", ({ height }) => {
    if (height) iframe.style.height = `${Math.min(height, 900)}px`;
  });
  const initialized = new Promise((resolve) => bridge.addEventListener("initialized", resolve));
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  iframe.srcdoc = withCsp(content.text, cspFor(content._meta?.ui?.csp));
  await initialized;
  await bridge.sendToolInput({ arguments: input });
  await bridge.sendToolResult(result);
  slot.bridge = bridge;
};
