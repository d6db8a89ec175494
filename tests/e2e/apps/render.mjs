// The test host (tests/e2e/test_apps_views.py): a real MCP client on a running genai-mcp server,
// and headless Chromium rendering each tool's view through the extension's AppBridge
// (host-page.js). It calls the tools, mounts their views, reads back what a person would see,
// writes screenshots to OUT_DIR and prints one JSON record for the Python side to judge.
//
//   MCP_URL=http://127.0.0.1:PORT/mcp MCP_TOKEN=... OUT_DIR=... DIGIT_PNG=<base64> node render.mjs
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";

const { MCP_URL, MCP_TOKEN, OUT_DIR, DIGIT_PNG } = process.env;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ORIGIN = "http://host.test";  // served by page.route below, never by the network
const DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const record = { tools: {}, views: {}, bridgeCalls: [], requests: [], console: [] };

// The host answers sampling (describe_image, rag_answer) as its LLM would: citing the first passage.
function sample(request) {
  const prompt = request.params.messages.map((m) => m.content.text ?? "").join("\n");
  const first = prompt.match(/\[1\][^\n]*\n?([^\n]*)/);
  const text = first ? `It is blue, as passage [1] says: ${first[1].slice(0, 80)}` : "A handwritten digit.";
  return { model: "test-host-llm", role: "assistant", content: { type: "text", text } };
}

async function connect() {
  const client = new Client({ name: "genai-mcp-apps-host", version: "1.0.0" }, { capabilities: { sampling: {} } });
  client.setRequestHandler("sampling/createMessage", async (request) => sample(request));
  const headers = { Authorization: `Bearer ${MCP_TOKEN}` };
  await client.connect(new StreamableHTTPClientTransport(new URL(MCP_URL), { requestInit: { headers } }));
  return client;
}

async function hostPage(browser, client) {
  const bundle = await esbuild.build({
    entryPoints: [new URL("host-page.js", import.meta.url).pathname],
    bundle: true, write: false, format: "esm", platform: "browser", minify: true,
  });
  const page = await browser.newPage({ viewport: { width: 760, height: 900 } });
  page.on("request", (r) => record.requests.push(r.url()));
  page.on("console", (m) => record.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => record.console.push(`pageerror: ${e.message}`));
  await page.route(`${ORIGIN}/**`, (route) => {
    const js = route.request().url().endsWith("/host.js");
    return route.fulfill(js
      ? { contentType: "text/javascript", body: bundle.outputFiles[0].text }
      : { contentType: "text/html", body: HOST_HTML });
  });
  await page.exposeFunction("hostCallTool", async (params) => {
    record.bridgeCalls.push(params.name);
    return client.callTool(params);
  });
  await page.exposeFunction("hostReadResource", (params) => client.readResource(params));
  await page.goto(`${ORIGIN}/`);
  return page;
}

const HOST_HTML = `<!doctype html><html><head><meta charset="utf-8"><style>
  body { margin: 0; padding: 8px; font: 12px system-ui; background: #e9ebee; }
  section { margin: 0 0 10px; border-radius: 8px; overflow: hidden; }
  section[data-theme="dark"] { background: #1b1d21; } section[data-theme="light"] { background: #fff; }
  iframe { display: block; width: 100%; height: 240px; border: 0; }
</style><script type="module" src="/host.js"></script></head><body></body></html>`;

async function main() {
  const client = await connect();
  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  record.tools = Object.fromEntries(tools.map((t) => [t.name, t._meta?.ui?.resourceUri ?? null]));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const page = await hostPage(browser, client);
  await page.waitForFunction(() => typeof window.mountView === "function");

  async function show(id, name, args, theme = "light", { failing = false } = {}) {
    const result = await client.callTool({ name, arguments: args });
    if (Boolean(result.isError) !== failing) throw new Error(`${name}: ${result.content[0].text}`);
    await page.evaluate(([slot, spec]) => window.mountView(slot, spec), [id, { tool: byName[name], input: args, result, theme }]);
    const frame = page.frameLocator(`#${id} iframe`);
    const view = { tool: name, theme, structured: result.structuredContent, content: result.content.map((c) => c.type),
      errorText: result.isError ? result.content[0].text : null };
    record.views[id] = view;
    return { frame, view, result: result.structuredContent };
  }
  // A screenshot once the host has sized the frame to the view's content (size-changed). Chromium
  // does not render cross-origin frames out of sight, so the view is brought into sight first.
  const shot = async (id) => {
    await page.locator(`#${id}`).scrollIntoViewIfNeeded();
    const content = () => page.frameLocator(`#${id} iframe`).locator("html")
      .evaluate((h) => Math.ceil(h.getBoundingClientRect().height));
    const framed = () => page.locator(`#${id} iframe`).evaluate((f) => Math.round(f.getBoundingClientRect().height));
    for (let tries = 0; tries < 40 && Math.min(await content(), 900) !== await framed(); tries++) {
      await page.waitForTimeout(50);
    }
    await page.locator(`#${id}`).screenshot({ path: join(OUT_DIR, `${id}.png`) });
  };
  const background = (frame) => frame.locator("body").evaluate((b) => getComputedStyle(b).backgroundColor);
  const decoded = (frame, selector) => frame.locator(selector).evaluateAll((imgs) =>
    imgs.map((i) => ({ width: i.naturalWidth, height: i.naturalHeight, complete: i.complete })));
  const bars = (frame) => frame.locator(".ranking .bar").evaluateAll((rows) => rows.map((r) => ({
    label: r.dataset.label, probability: Number(r.dataset.probability),
    width: r.querySelector(".fill").getBoundingClientRect().width,
    track: r.querySelector(".track").getBoundingClientRect().width,
  })));

  // images: a grid of samples, then the denoising strip of one of them (dark theme)
  const samples = await show("samples", "sample_images", { num_images: 6, seed: 11, steps: 8 });
  await samples.frame.locator("img.output").nth(5).waitFor();
  await samples.frame.locator("img.output").first().click();
  samples.view.enlarged = await decoded(samples.frame, "#enlarged.open img");
  await samples.frame.locator("#enlarged").click();
  Object.assign(samples.view, {
    images: await decoded(samples.frame, "img.output"),
    captions: await samples.frame.locator("figcaption").allTextContents(),
    background: await background(samples.frame),
  });
  await shot("samples");
  // The host switches theme while the view is up (ui/notifications/host-context-changed), and back.
  await page.evaluate(() => document.querySelector("#samples").bridge.setHostContext({ theme: "dark" }));
  await samples.frame.locator(":root[data-theme='dark']").waitFor();
  samples.view.switchedBackground = await background(samples.frame);
  await page.evaluate(() => document.querySelector("#samples").bridge.setHostContext({ theme: "light" }));
  await samples.frame.locator(":root[data-theme='light']").waitFor();
  const strip = await show("denoise", "denoise_image", { image: samples.result.images[0].uri, seed: 3, steps: 8 }, "dark");
  await strip.frame.locator("img.output").nth(2).waitFor();
  Object.assign(strip.view, {
    images: await decoded(strip.frame, "img.output"),
    captions: await strip.frame.locator("figcaption").allTextContents(),
    background: await background(strip.frame),
  });
  await shot("denoise");

  // classification: the image beside its bars
  for (const [id, name, args, theme] of [
    ["classify", "classify_image", { image: DIGIT_PNG, top_k: 5 }, "light"],
    ["zero_shot", "zero_shot_classify", { image: DIGIT_PNG, labels: DIGITS }, "dark"],
    ["describe", "describe_image", { image: DIGIT_PNG, top_k: 3 }, "light"],
  ]) {
    const { frame, view } = await show(id, name, args, theme);
    await frame.locator(".ranking .bar").first().waitFor();
    Object.assign(view, {
      bars: await bars(frame),
      titles: await frame.locator(".ranking h3").allTextContents(),
      images: await decoded(frame, ".item > img"),
      description: await frame.locator(".description").allTextContents(),
      background: await background(frame),
    });
    await shot(id);
  }

  // metrics: heatmap and per-class table; retrieval and text tables
  const confusion = await show("confusion", "classification_metrics", {
    y_true: ["cat", "cat", "cat", "dog", "dog", "bird", "bird", "bird", "bird", "dog"],
    y_pred: ["cat", "dog", "cat", "dog", "dog", "bird", "cat", "bird", "bird", "bird"],
  });
  await confusion.frame.locator("table.heatmap td").first().waitFor();
  confusion.view.cells = await confusion.frame.locator("table.heatmap td").evaluateAll((tds) => tds.map((td) => ({
    row: td.dataset.row, col: td.dataset.col, count: Number(td.dataset.count), text: td.textContent,
    background: getComputedStyle(td).backgroundColor,
  })));
  confusion.view.perClass = await confusion.frame.locator("table.per-class tr").evaluateAll((trs) =>
    trs.slice(1).map((tr) => [...tr.children].map((td) => td.textContent)));
  await shot("confusion");
  const retrieval = await show("retrieval_metrics", "retrieval_metrics", {
    queries: [
      { query_id: "q1", retrieved: ["a", "b", "c"], relevant: ["b"] },
      { query_id: "q2", retrieved: ["d", "e", "f"], relevant: ["d", "f"] },
    ], k: [1, 3],
  }, "dark");
  await retrieval.frame.locator("table.per-query tr").nth(1).waitFor();
  retrieval.view.rows = await retrieval.frame.locator("table.per-query tr").evaluateAll((trs) =>
    trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  await shot("retrieval_metrics");
  const text = await show("text_metrics", "text_metrics", {
    candidates: ["the cat sat on the mat", "a dog barked"],
    references: [["the cat is on the mat"], ["the dog barked loudly"]],
  });
  await text.frame.locator("table.per-candidate tr").nth(1).waitFor();
  text.view.rows = await text.frame.locator("table.per-candidate tr").evaluateAll((trs) =>
    trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  await shot("text_metrics");

  // a refused call: the view says what was wrong instead of drawing nothing
  const refused = await show("refused", "classification_metrics", { y_true: ["a", "b"], y_pred: ["a"] }, "light", { failing: true });
  await refused.frame.locator(":root[data-error]").waitFor();
  refused.view.status = await refused.frame.locator("#status").textContent();
  await shot("refused");

  // retrieval: hybrid hits with their per-list ranks; an answer with its cited passages
  await client.callTool({ name: "rag_index", arguments: { collection: "views", documents: [
    { id: "sky", text: "The sky on a clear day is blue because air scatters short wavelengths most." },
    { id: "grass", text: "Grass is green: chlorophyll absorbs red and blue light and reflects green." },
    { id: "sea", text: "The sea looks blue partly because water absorbs red light." },
    { id: "snow", text: "Snow is white since its ice crystals scatter every wavelength alike." },
  ] } });
  for (const [id, name, args, theme] of [
    ["search", "rag_search", { collection: "views", query: "why is the sky blue", mode: "hybrid", k: 3 }, "light"],
    ["answer", "rag_answer", { collection: "views", question: "why is the sky blue", k: 2 }, "dark"],
  ]) {
    const { frame, view } = await show(id, name, args, theme);
    await frame.locator(".hit").first().waitFor();
    view.hits = await frame.locator(".hit").evaluateAll((hits) => hits.map((h) => ({
      rank: Number(h.dataset.rank), denseRank: h.dataset.denseRank, keywordRank: h.dataset.keywordRank,
      cited: h.classList.contains("cited"), text: h.querySelector(".text").textContent,
      listRanks: [...h.querySelectorAll(".list-rank")].map((s) => s.textContent),
    })));
    view.answer = await frame.locator(".answer").allTextContents();
    await shot(id);
  }

  // training: the curve grows through job_status calls from the view; its cancel button stops the job
  const texts = Array.from({ length: 40 }, (_, i) => `The zebra number ${i} grazes on the striped savanna at dawn.`);
  const live = await show("training", "lora_finetune",
    { task: "causal-lm", dataset: texts, name: "views-cancelled", max_steps: 400, confirm: true, wait_seconds: 0 });
  const points = async () => Number(await live.frame.locator("#curve").getAttribute("data-points"));
  live.view.points = [];
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    live.view.points.push(await points());
    const seen = live.view.points.filter((n) => n > 0);
    if (seen.length >= 3 && seen.at(-1) > seen[0]) break;
    await page.waitForTimeout(400);
  }
  await shot("training");
  await live.frame.locator("#cancel").click();
  await live.frame.locator(":root[data-state='cancelled']").waitFor({ timeout: 30_000 });
  live.view.shownState = await live.frame.locator("#state").textContent();
  const jobId = (live.result.job ?? live.result).job_id;
  live.view.jobAfterCancel = (await client.callTool({ name: "job_status", arguments: { job_id: jobId } })).structuredContent;

  // training to the end: the before/after metric once the job succeeds
  const done = await show("trained", "lora_finetune",
    { task: "causal-lm", dataset: texts, name: "views-trained", max_steps: 6, confirm: true, wait_seconds: 0 }, "dark");
  await done.frame.locator(":root[data-state='succeeded']").waitFor({ timeout: 90_000 });
  Object.assign(done.view, {
    metric: await done.frame.locator("#metric").textContent(),
    points: [await done.frame.locator("#curve").getAttribute("data-points")].map(Number),
    finalJob: (await client.callTool({ name: "job_status", arguments: { job_id: done.result.job.job_id } })).structuredContent,
  });
  await shot("trained");

  await browser.close();
  await client.close();
}

try {
  await main();
} catch (error) {
  record.error = String(error.stack ?? error);
}
writeFileSync(join(OUT_DIR, "record.json"), JSON.stringify(record, null, 1));
console.log(JSON.stringify(record));
process.exit(record.error ? 1 : 0);
