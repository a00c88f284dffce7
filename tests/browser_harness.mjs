// Open a page in Debian's Chromium (headless, driven by playwright-core: no browser download), as
// a reviewer would, and report what it shows: every overview cell with its box on the page, the
// legend, the requests the page made, and a full-page screenshot.
// Usage: node browser_harness.mjs PAGE.html OUT_DIR
import { chromium } from "playwright-core";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [page_path, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Flags of this machine's browser probe: no sandbox as root, and no background network calls.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(page_path).href);
  const cells = await page.$$eval("#bindings td[data-kind]", (tds) => tds.map((td) => {
    const r = td.getBoundingClientRect();
    return { stack: td.dataset.stack, worker: td.dataset.worker, binding: td.dataset.binding, kind: td.dataset.kind,
             text: td.innerText.trim(), box: [r.x + window.scrollX, r.y + window.scrollY, r.width, r.height] };
  }));
  const legend = await page.$$eval("[data-legend]", (els) => els.map((el) => {
    const r = el.getBoundingClientRect();
    return { kind: el.dataset.legend, text: el.innerText.trim(), box: [r.x + window.scrollX, r.y + window.scrollY, r.width, r.height] };
  }));
  const columns = await page.$$eval("#bindings thead th", (ths) => ths.map((th) => th.innerText.trim()));
  await page.screenshot({ path: join(out, "overview.png"), fullPage: true });
  writeFileSync(join(out, "shown.json"), JSON.stringify({ cells, legend, columns, requests }));
} finally {
  await browser.close();
}
