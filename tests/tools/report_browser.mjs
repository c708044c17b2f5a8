// Drives a v4eval HTML report in real headless Chromium (Debian's /usr/bin/chromium through the
// npm package playwright-core): the page must load from file:// without console errors, page
// errors or any network request; filters, the text search and the run/mode diff must show the
// counts the test computed independently from the database; screenshots are saved.
//
//   node report_browser.mjs --html FILE [--expect FILE.json] [--screenshots DIR] [--bench]
//
// --expect: {"total": N, "filter": {"mode": "think-max", "count": N, "verdict": "exact",
//            "verdict_count": N}, "search": {"text": "...", "count": N},
//            "diff": {"a_run": 0, "a_mode": 0, "b_run": 1, "b_mode": 0, "won": N, "lost": N,
//                     "flipped": N, "paired": N}}
// --bench: only load (and time a filter); prints {"load_ms", "filter_ms", ...}.
// Exit 0 on success, 1 on a failed check, 77 when Chromium or playwright-core is missing.
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith("--") ? all[i + 1] : true]);
    return acc;
  }, []));

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
let chromium;
try {
  chromium = createRequire(path.join(root, "tools", "node", "package.json"))("playwright-core").chromium;
} catch (e) {
  console.log("SKIP: playwright-core is not installed in tools/node (run scripts/setup.sh): " + e.message);
  process.exit(77);
}
if (!fs.existsSync(executablePath)) {
  console.log("SKIP: " + executablePath + " not found (scripts/setup.sh installs Debian's chromium)");
  process.exit(77);
}

const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "v4eval-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = {};
try {
  const consoleErrors = [], network = [];
  // Nothing may leave the file: every request other than the file itself is recorded and refused.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    network.push(url);
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push("pageerror: " + e.message));

  const url = pathToFileURL(path.resolve(args.html)).href;
  const t0 = Date.now();
  await page.goto(url, { waitUntil: "load", timeout: 120000 });
  await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 120000 });
  result.load_ms = Date.now() - t0;
  result.ready_ms = await page.evaluate(() => performance.now());
  result.attempts = await page.evaluate(() => window.v4report.meta().attempts.run.length);
  const shots = args.screenshots ? String(args.screenshots) : null;
  if (shots) fs.mkdirSync(shots, { recursive: true });
  const count = async () => Number(await page.getAttribute("[data-testid=sample-count]", "data-count"));
  const waitCount = async (n) => {
    try {
      await page.waitForFunction((want) => document.querySelector("[data-testid=sample-count]").dataset.count === String(want), n, { timeout: 60000 });
    } catch { /* reported by the check below */ }
    return count();
  };

  if (args.bench) {
    await page.click("[data-testid=tab-samples]");
    const t1 = Date.now();
    await page.selectOption("[data-testid=f-mode]", "2");
    await page.waitForFunction(() => document.querySelector("[data-testid=sample-count]").dataset.count !== String(window.v4report.meta().attempts.run.length), null, { timeout: 60000 }).catch(() => {});
    result.filter_ms = Date.now() - t1;
    const t2 = Date.now();
    await page.click(".vrow");
    await page.waitForSelector("[data-testid=attempt-title]", { timeout: 60000 });
    result.transcript_ms = Date.now() - t2;
    const t3 = Date.now();
    await page.click("[data-testid=tab-diff]");
    await page.waitForSelector("#view-diff .vrow", { timeout: 60000 });
    result.diff_ms = Date.now() - t3;
    result.heap_mb = await page.evaluate(() => (performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1e6) : null));
  } else {
    const expect = JSON.parse(fs.readFileSync(args.expect, "utf8"));
    check(result.attempts === expect.total, `attempts in the page: ${result.attempts}, expected ${expect.total}`);
    const resultRows = await page.locator("#results tr[data-run]").count();
    check(resultRows === expect.results, `overview result rows: ${resultRows}, expected ${expect.results}`);
    const smallN = await page.locator("#results .small-n").count();
    check(smallN > 0 === !!expect.small_n, `small-n marker shown: ${smallN}, expected ${expect.small_n}`);
    if (shots) await page.screenshot({ path: path.join(shots, "overview.png"), fullPage: true });

    // Samples: filters and search.
    await page.click("[data-testid=tab-samples]");
    check((await waitCount(expect.total)) === expect.total, `unfiltered count ${await count()}, expected ${expect.total}`);
    const modeIndex = await page.evaluate((m) => window.v4report.meta().modes.indexOf(m), expect.filter.mode);
    await page.selectOption("[data-testid=f-mode]", String(modeIndex));
    check((await waitCount(expect.filter.count)) === expect.filter.count, `mode filter ${expect.filter.mode}: ${await count()}, expected ${expect.filter.count}`);
    await page.selectOption("[data-testid=f-verdict]", expect.filter.verdict);
    check((await waitCount(expect.filter.verdict_count)) === expect.filter.verdict_count, `verdict filter: ${await count()}, expected ${expect.filter.verdict_count}`);
    await page.fill("[data-testid=f-min]", "0.5");
    check((await waitCount(expect.filter.verdict_min_count)) === expect.filter.verdict_min_count, `score filter: ${await count()}, expected ${expect.filter.verdict_min_count}`);
    await page.fill("[data-testid=f-min]", "");
    await page.selectOption("[data-testid=f-verdict]", "");
    await page.selectOption("[data-testid=f-mode]", "-1");
    await page.fill("[data-testid=f-text]", expect.search.text);
    check((await waitCount(expect.search.count)) === expect.search.count, `text search "${expect.search.text}": ${await count()}, expected ${expect.search.count}`);
    if (expect.error_class) {
      await page.fill("[data-testid=f-text]", "");
      const idx = await page.evaluate((e) => window.v4report.meta().errors.indexOf(e), expect.error_class.name);
      check(idx >= 0, `error class "${expect.error_class.name}" listed`);
      await page.selectOption("[data-testid=f-error]", String(idx));
      check((await waitCount(expect.error_class.count)) === expect.error_class.count, `error class filter: ${await count()}, expected ${expect.error_class.count}`);
      await page.selectOption("[data-testid=f-error]", "-1");
      await page.fill("[data-testid=f-text]", expect.search.text);
      await waitCount(expect.search.count);
    }
    // A transcript: the first match, its prompt (summarised when long) and answer.
    await page.click("#view-samples .vrow");
    await page.waitForSelector("[data-testid=attempt-title]", { timeout: 30000 });
    const detail = await page.textContent("#attempt-detail");
    check(detail.includes("grading details") && detail.includes("answer") && detail.includes("prompt"), "transcript shows grading details, prompt and answer");
    check(detail.includes(expect.search.text), "the transcript contains the searched text");
    if (expect.summarised_prompt) check(detail.includes("summarised"), "a long prompt is summarised");
    if (shots) await page.screenshot({ path: path.join(shots, "samples.png"), fullPage: true });

    // Diff: the pair the test computed, flipped samples first.
    await page.click("[data-testid=tab-diff]");
    const d = expect.diff;
    for (const [sel, v] of [["d-a-run", d.a_run], ["d-a-mode", d.a_mode], ["d-b-run", d.b_run], ["d-b-mode", d.b_mode]])
      await page.selectOption(`[data-testid=${sel}]`, String(v));
    await page.waitForFunction((want) => document.querySelector("[data-testid=diff-paired]").textContent.startsWith(want + " "), d.paired, { timeout: 30000 }).catch(() => {});
    const text = async (id) => (await page.textContent(`[data-testid=${id}]`)).trim();
    check((await text("diff-paired")) === `${d.paired} paired samples`, `diff paired: "${await text("diff-paired")}", expected ${d.paired}`);
    check((await text("diff-won")) === `won ${d.won}`, `diff won: "${await text("diff-won")}", expected ${d.won}`);
    check((await text("diff-lost")) === `lost ${d.lost}`, `diff lost: "${await text("diff-lost")}", expected ${d.lost}`);
    check((await text("diff-flipped")) === `flipped ${d.flipped}`, `diff flipped: "${await text("diff-flipped")}", expected ${d.flipped}`);
    const rows = await page.evaluate(() => window.v4report.diffRows());
    const firstUnflipped = rows.findIndex((r) => !r.flip);
    check(rows.length === d.paired, `diff rows ${rows.length}, expected ${d.paired}`);
    check(d.flipped === 0 || (rows[0].flip && (firstUnflipped < 0 || rows.slice(firstUnflipped).every((r) => !r.flip))), "flipped samples come first");
    await page.selectOption("[data-testid=d-only]", "flipped");
    await page.waitForFunction((n) => window.v4report.diffRows().length === n, d.flipped, { timeout: 30000 }).catch(() => {});
    check((await page.evaluate(() => window.v4report.diffRows().length)) === d.flipped, "the flipped-only view lists the flipped samples");
    if (d.flipped > 0) {
      await page.click("#view-diff .vrow");
      await page.waitForFunction(() => document.querySelectorAll("#diff-detail .side > div").length === 2, null, { timeout: 30000 });
      const sides = await page.textContent("#diff-detail");
      check(sides.includes("A:") && sides.includes("B:"), "side-by-side transcripts");
    }
    if (shots) await page.screenshot({ path: path.join(shots, "diff.png"), fullPage: true });

    // Plots: SVG charts where there is data, "no data" where a suite is absent.
    await page.click("[data-testid=tab-plots]");
    const svgs = await page.locator("#view-plots svg").count();
    check(svgs >= 2, `plots drawn: ${svgs}`);
    const noData = await page.textContent("#view-plots");
    check(noData.includes("no LiveCodeBench run"), "LiveCodeBench plot says there is no data");
    if (shots) await page.screenshot({ path: path.join(shots, "plots.png"), fullPage: true });

    result.inflate_fallback = await page.evaluate(() => window.v4report.inflateSelfTest());
    check(result.inflate_fallback === "ok", `JavaScript inflater fallback: ${result.inflate_fallback}`);
  }
  check(consoleErrors.length === 0, "console errors: " + JSON.stringify(consoleErrors));
  check(network.length === 0, "network requests: " + JSON.stringify(network));
} catch (e) {
  failures.push("exception: " + (e && e.stack ? e.stack : e));
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
result.failures = failures;
console.log(JSON.stringify(result));
process.exit(failures.length ? 1 : 0);
