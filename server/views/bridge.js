// The view side of MCP Apps (SEP-1865), inlined into every view: JSON-RPC over postMessage with
// the host. The host answers ui/initialize with its context (theme, style variables), then sends
// the call's arguments (tool-input) and result (tool-result); the view may ask it to call tools
// and read resources on the server. Nothing here reaches the network.
"use strict";
const genai = (() => {
  const root = document.documentElement;
  const pending = new Map();
  const handlers = { input: [], result: [] };
  const last = {};
  let nextId = 1;

  const post = (message) => window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");

  function request(method, params) {
    const id = nextId++;
    post({ id, method, params });
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  }

  function applyContext(context) {
    if (context?.theme) root.dataset.theme = context.theme;
    for (const [key, value] of Object.entries(context?.styles?.variables ?? {})) {
      if (value) root.style.setProperty(key, value);
    }
  }

  function deliver(kind, value) {
    last[kind] = value;
    for (const handler of handlers[kind]) handler(value);
  }

  window.addEventListener("message", (event) => {
    const message = event.data;
    if (event.source !== window.parent || message?.jsonrpc !== "2.0") return;
    if (message.method === undefined) {
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiting?.reject(new Error(message.error.message));
      else waiting?.resolve(message.result);
    } else if (message.method === "ui/notifications/tool-input") {
      deliver("input", message.params?.arguments ?? {});
    } else if (message.method === "ui/notifications/tool-result") {
      if (message.params?.isError) fail(new Error(textOf(message.params)));
      else deliver("result", message.params);
    } else if (message.method === "ui/notifications/host-context-changed") {
      applyContext(message.params);
    } else if (message.id !== undefined) {
      // ui/resource-teardown and ping need only an answer; nothing else is asked of a view.
      const known = message.method === "ui/resource-teardown" || message.method === "ping";
      post(known ? { id: message.id, result: {} }
                 : { id: message.id, error: { code: -32601, message: `${message.method} not supported` } });
    }
  });

  const appInfo = { name: "genai-mcp-views", version: "1" };
  request("ui/initialize", { appInfo, appCapabilities: {}, protocolVersion: "2026-01-26" }).then((r) => {
    applyContext(r.hostContext);
    post({ method: "ui/notifications/initialized", params: {} });
  });
  // The host sizes the frame to the content.
  new ResizeObserver(() => {
    post({ method: "ui/notifications/size-changed", params: { height: Math.ceil(root.getBoundingClientRect().height) } });
  }).observe(root);

  const on = (kind) => (handler) => {
    handlers[kind].push(handler);
    if (kind in last) handler(last[kind]);
  };

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "style") node.style.cssText = value;
      else node.setAttribute(key, value);
    }
    node.append(...children.flat().filter((c) => c !== null && c !== undefined));
    return node;
  }

  /** Shows an error in the view's status line instead of failing silently. */
  function fail(error) {
    const text = String(error?.message ?? error);
    const status = document.getElementById("status");
    if (status) status.textContent = text;
    root.dataset.error = text;
  }

  function textOf(result) {
    return (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
  }

  return {
    onInput: on("input"),
    onResult: on("result"),
    el,
    /** A tool's structured result, called through the host; a tool error is thrown with its text. */
    async call(name, args) {
      const result = await request("tools/call", { name, arguments: args });
      if (result.isError) throw new Error(textOf(result));
      return result.structuredContent;
    },
    /** A server resource holding an image, as a data: URL the view can show. */
    async imageUrl(uri) {
      const { contents } = await request("resources/read", { uri });
      return `data:${contents[0].mimeType ?? "image/png"};base64,${contents[0].blob}`;
    },
    fixed: (x, digits = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits)),
    percent: (p) => `${(100 * p).toFixed(1)}%`,
    fail,
  };
})();
