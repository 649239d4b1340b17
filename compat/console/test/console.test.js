// The web console as a person sees it, in headless Chromium (Debian's, driven by
// playwright-core; no browser download): an empty cluster, a topic with many
// records in the message browser, a group's lag, and errors. Each page is
// screenshotted into $SCREENSHOTS and the screenshot checked to show something.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require("playwright-core");

const BASE = process.env.CONSOLE_URL || "http://127.0.0.1:9644";
const SHOTS = process.env.SCREENSHOTS || path.join(__dirname, "..", "screenshots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

let browser;
let page;
const pageErrors = [];

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  // A script that slipped through escaping would call alert or set this flag.
  page.on("dialog", (d) => { pageErrors.push("dialog: " + d.message()); d.dismiss(); });
});

after(async () => {
  if (browser) await browser.close();
});

async function api(method, p, body) {
  const r = await fetch(BASE + "/api/v1" + p, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new Error(method + " " + p + ": " + r.status + " " + JSON.stringify(data));
  return data;
}

// Saves a screenshot and checks it is not blank: it must have many distinct
// colours (text, tables, the header), counted on a canvas in a blank page.
async function screenshot(name) {
  const file = path.join(SHOTS, name + ".png");
  const png = await page.screenshot({ path: file, fullPage: true });
  assert.ok(fs.statSync(file).size > 5000, name + ": screenshot suspiciously small");
  const probe = await browser.newPage();
  try {
    const colours = await probe.evaluate(async (b64) => {
      const img = new Image();
      img.src = "data:image/png;base64," + b64;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.width; c.height = img.height;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < data.length; i += 4 * 7) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      return seen.size;
    }, png.toString("base64"));
    assert.ok(colours > 20, name + ": screenshot looks blank (" + colours + " colours)");
  } finally {
    await probe.close();
  }
}

async function open(hash) {
  await page.goto(BASE + "/console/" + hash);
}

function text(selector) {
  return page.locator(selector).innerText();
}

test("an empty cluster shows its broker and no topics", async () => {
  await open("#/");
  await page.locator("#empty-cluster").waitFor();
  assert.match(await text("#empty-cluster"), /No topics yet/);
  const brokers = page.locator("table").first().locator("tbody tr");
  assert.equal(await brokers.count(), 1);
  assert.match(await brokers.first().innerText(), /active/);
  assert.match(await text("main"), /active controller/);
  assert.equal(await page.locator("#error").isVisible(), false);
  await screenshot("01-empty-cluster");
});

test("a topic created in the page shows its partitions and configs", async () => {
  await open("#/topics");
  await page.locator("#create-topic").waitFor();
  await page.fill("#new-topic-name", "made-in-browser");
  await page.fill("#create-topic input[name=partitions]", "2");
  await page.fill("#create-topic textarea[name=configs]", "retention.ms=7200000");
  await page.click("#create-topic button[type=submit]");
  await page.locator("#topic-name").waitFor();
  assert.equal(await text("#topic-name"), "made-in-browser");
  const rows = page.locator("table").first().locator("tbody tr");
  assert.equal(await rows.count(), 2);
  assert.equal(await page.locator("input[aria-label='retention.ms']").inputValue(), "7200000");
  await screenshot("02-topic-page");
  // Editing a config: the new value is saved and shown after the page reloads.
  const row = page.locator("tbody tr", { has: page.locator("input[aria-label='retention.ms']") });
  await page.fill("input[aria-label='retention.ms']", "5400000");
  await row.locator("button", { hasText: "Save" }).click();
  await page.locator("#notice", { hasText: "Set retention.ms = 5400000" }).waitFor();
  const saved = (await api("GET", "/topics/made-in-browser")).configs.find((c) => c.name === "retention.ms");
  assert.equal(saved.value, "5400000");
  // Deleting needs the name typed; a wrong one is refused in the page.
  await page.fill("#delete-confirm", "something-else");
  await page.click("#delete-topic button[type=submit]");
  assert.match(await text("#error"), /Type the topic's name/);
  await page.fill("#delete-confirm", "made-in-browser");
  await page.click("#delete-topic button[type=submit]");
  await page.waitForURL(/#\/topics$/);
  await page.locator("h1", { hasText: "Topics" }).waitFor();
  assert.doesNotMatch(await text("#page"), /made-in-browser/);
});

const HOSTILE = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>';

test("the message browser shows many records, escaped, and reads from an offset", async () => {
  await api("POST", "/topics", { name: "browse-me", partitions: 2 });
  for (let i = 0; i < 300; i++) {
    const value = i === 7 ? HOSTILE : JSON.stringify({ n: i, note: "record " + i });
    await api("POST", "/topics/browse-me/messages", {
      partition: i % 2, key: "k" + i, value, headers: [{ key: "i", value: String(i) }],
    });
  }
  await open("#/topics/browse-me/messages");
  await page.locator("#record-count").waitFor();
  assert.equal(await text("#record-count"), "50 records");
  // JSON values are pretty-printed.
  assert.match(await text("#records"), /"note": "record 299"/);

  await page.selectOption("#browse select[name=partition]", "1");
  await page.selectOption("#browse select[name=from]", "offset");
  await page.fill("#browse input[name=offset]", "3");
  await page.fill("#browse input[name=limit]", "5");
  await page.click("#browse button[type=submit]");
  await page.locator("#record-count", { hasText: "5 records" }).waitFor();
  const first = page.locator("#records tbody tr").first();
  const cells = await first.locator("td").allInnerTexts();
  assert.equal(cells[0], "1");
  assert.equal(cells[1], "3");
  // Partition 1, offset 3 is record 7: shown as text, not run.
  assert.ok(cells[4].includes(HOSTILE), "the hostile value is shown as text: " + cells[4]);
  assert.equal(await page.locator("#records img, #records script").count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await screenshot("03-message-browser");

  // A key filter finds one record among 300.
  await page.selectOption("#browse select[name=partition]", "");
  await page.selectOption("#browse select[name=from]", "beginning");
  await page.fill("#browse input[name=limit]", "50");
  await page.fill("#browse input[name=key]", "k250");
  await page.click("#browse button[type=submit]");
  await page.locator("#record-count", { hasText: "1 records" }).waitFor();

  // Producing from the page; the live tail then shows a record produced elsewhere.
  await page.fill("#browse input[name=key]", "");
  await page.selectOption("#browse select[name=from]", "end");
  await page.fill("#browse input[name=limit]", "10");
  await page.click("#browse button[type=submit]");
  await page.locator("#record-count", { hasText: "10 records" }).waitFor();
  await page.fill("#produce input[name=key]", "from-page");
  await page.fill("#produce textarea[name=value]", "typed in the console");
  await page.click("#produce button[type=submit]");
  await page.locator("#notice", { hasText: "Produced to partition" }).waitFor();
  await page.locator("#records", { hasText: "typed in the console" }).waitFor();
  await page.check("#browse input[name=live]");
  await api("POST", "/topics/browse-me/messages", { partition: 0, value: "arrived while tailing" });
  await page.locator("#records", { hasText: "arrived while tailing" }).waitFor({ timeout: 20000 });
  await page.uncheck("#browse input[name=live]");
  assert.deepEqual(pageErrors, []);
});

test("a group's lag is shown and its offsets reset from the page", async () => {
  // A group with committed offsets and no members, made through the console's
  // own reset: 150 records per partition, committed at 100: lag 50 + 50.
  await api("POST", "/groups/lagging/reset-offsets", { to: "offset", offset: 100, topic: "browse-me" });
  await open("#/groups");
  const row = page.locator("tbody tr", { hasText: "lagging" });
  await row.waitFor();
  assert.match(await row.innerText(), /Empty/);
  assert.match(await row.innerText(), /\b10[0-9]\b/); // 100, plus records produced above
  await row.locator("a").click();
  await page.locator("#group-lag").waitFor();
  const before = Number(await text("#group-lag"));
  assert.ok(before >= 100, "lag " + before);
  await screenshot("04-group-lag");
  await page.selectOption("#reset-offsets select[name=to]", "latest");
  await page.click("#reset-offsets button[type=submit]");
  await page.locator("#notice", { hasText: "Reset 2 partitions" }).waitFor();
  await page.locator("#group-lag", { hasText: /^0$/ }).waitFor();
});

test("errors are shown in the page: an unknown topic, a bad offset", async () => {
  await open("#/topics/no-such-topic");
  await page.locator("#error").waitFor({ state: "visible" });
  assert.match(await text("#error"), /UNKNOWN_TOPIC_OR_PARTITION/);
  await screenshot("05-unknown-topic");

  await open("#/topics/browse-me/messages");
  await page.locator("#record-count").waitFor();
  await page.selectOption("#browse select[name=from]", "offset");
  await page.fill("#browse input[name=offset]", "ten");
  await page.click("#browse button[type=submit]");
  await page.locator("#error", { hasText: "offset must be a whole number" }).waitFor();

  await open("#/groups/nobody-here");
  await page.locator("#error").waitFor({ state: "visible" });
  assert.match(await text("#error"), /does not exist/);
  await screenshot("06-unknown-group");
});
