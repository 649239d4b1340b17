// The Kavka console. Every value from the broker reaches the page through
// textContent or an attribute set with setAttribute on an element we create:
// never innerHTML, so a topic name, key, value or header cannot inject markup.
"use strict";

const API = "/api/v1";

// ---- small DOM helpers --------------------------------------------------

// h("td", {class: "num"}, "text", otherNode): children that are strings become
// text nodes, so they are shown, never parsed.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function table(headers, rows, empty) {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map(([text, cls]) => h("th", { class: cls }, text)))),
    h("tbody", {}, rows));
}

function tag(text, kind) { return h("span", { class: "tag " + (kind || "") }, text); }

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0; let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(v) : v.toFixed(1)) + " " + units[i];
}

function offset(o) {
  if (o === null || o === undefined) return "–";
  if (typeof o === "object") return "unavailable (" + o.error + ")";
  return String(o);
}

function showError(message) {
  const el = document.getElementById("error");
  el.textContent = message;
  el.hidden = !message;
}

function showNotice(message) {
  const el = document.getElementById("notice");
  el.textContent = message;
  el.hidden = !message;
}

function setPage(...nodes) {
  const page = document.getElementById("page");
  page.replaceChildren(...nodes);
}

// ---- API ----------------------------------------------------------------

class ApiError extends Error {}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError("The broker did not answer: " + e.message);
  }
  let data = null;
  try { data = await response.json(); } catch (_) { /* not JSON */ }
  if (!response.ok) {
    const why = data && data.error ? data.error : response.status + " " + response.statusText;
    throw new ApiError(why);
  }
  return data;
}

const enc = encodeURIComponent;

// ---- routing ------------------------------------------------------------

let tail = null; // the live tail's timer, stopped on every navigation

// Renders the page the hash names; `notice` (a string) is shown on it, e.g.
// what a change just did (a hashchange passes an event, which shows nothing).
function route(notice) {
  if (tail) { clearTimeout(tail); tail = null; }
  showError(""); showNotice(typeof notice === "string" ? notice : "");
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const section = parts[0] || "";
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === (section || "cluster"));
  }
  let page;
  if (section === "") page = clusterPage();
  else if (section === "topics" && parts.length === 1) page = topicsPage();
  else if (section === "topics" && parts[2] === "messages") page = messagesPage(parts[1]);
  else if (section === "topics") page = topicPage(parts[1]);
  else if (section === "groups" && parts.length === 1) page = groupsPage();
  else if (section === "groups") page = groupPage(parts[1]);
  else page = Promise.reject(new ApiError("No such page: " + location.hash));
  page.catch((e) => {
    setPage(h("p", { class: "muted" }, "Nothing to show."));
    showError(e.message);
  });
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", route);

// ---- cluster ------------------------------------------------------------

async function clusterPage() {
  const [cluster, topics, groups] = await Promise.all([
    api("GET", "/cluster"), api("GET", "/topics"), api("GET", "/groups")]);
  const userTopics = topics.filter((t) => !t.internal);
  const brokers = cluster.brokers.map((b) => h("tr", {},
    h("td", {}, String(b.id), b.this_broker ? tag("this broker") : null),
    h("td", {}, b.host + ":" + b.port),
    h("td", {}, b.rack || "–"),
    h("td", {},
      b.fenced ? tag("fenced", "bad") : b.in_controlled_shutdown ? tag("in controlled shutdown", "bad")
        : tag("active", "good"),
      b.active_controller ? tag("active controller") : null)));
  const controllers = cluster.controllers.map((c) => h("tr", {},
    h("td", {}, String(c.id)),
    h("td", {}, c.role, c.active ? tag("active controller", "good") : null),
    h("td", {}, c.endpoints.join(", ") || "–"),
    h("td", { class: "num" }, String(c.log_end_offset))));
  setPage(
    h("h1", {}, "Cluster ", h("span", { class: "muted", id: "cluster-id" }, cluster.cluster_id)),
    h("div", { class: "cards" },
      card("Brokers", cluster.brokers.length),
      card("Topics", userTopics.length),
      card("Consumer groups", groups.length),
      card("Under-replicated partitions", topics.reduce((n, t) => n + t.under_replicated, 0))),
    userTopics.length === 0
      ? h("p", { id: "empty-cluster", class: "muted" },
        "No topics yet. ", h("a", { href: "#/topics" }, "Create one"), " to get started.")
      : null,
    h("h2", {}, "Brokers"),
    table([["Id"], ["Address"], ["Rack"], ["State"]], brokers, "No brokers registered."),
    h("h2", {}, "Controllers"),
    table([["Id"], ["Role"], ["Endpoints"], ["Log end", "num"]], controllers, "No quorum information."));
}

function card(label, n) {
  return h("div", { class: "card" }, h("div", { class: "n" }, String(n)), h("div", { class: "muted" }, label));
}

// ---- topics -------------------------------------------------------------

async function topicsPage() {
  const topics = await api("GET", "/topics");
  const rows = topics.map((t) => h("tr", {},
    h("td", {}, h("a", { href: "#/topics/" + enc(t.name) }, t.name), t.internal ? tag("internal") : null),
    h("td", { class: "num" }, String(t.partitions)),
    h("td", { class: "num" }, String(t.replication_factor)),
    h("td", { class: "num" }, bytes(t.size_bytes)),
    h("td", { class: "num" }, t.under_replicated ? tag(String(t.under_replicated), "bad") : "0")));
  const name = h("input", { name: "name", required: true, placeholder: "orders", id: "new-topic-name" });
  const partitions = h("input", { name: "partitions", type: "number", min: 1, placeholder: "default" });
  const rf = h("input", { name: "replication_factor", type: "number", min: 1, placeholder: "default" });
  const configs = h("textarea", { name: "configs", placeholder: "retention.ms=86400000" });
  const form = h("form", { class: "inline", id: "create-topic", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const body = { name: name.value.trim(), configs: parseProps(configs.value) };
      if (partitions.value) body.partitions = Number(partitions.value);
      if (rf.value) body.replication_factor = Number(rf.value);
      await api("POST", "/topics", body);
      location.hash = "#/topics/" + enc(body.name);
    } catch (e) { showError(e.message); }
  } },
  h("label", {}, "Name", name), h("label", {}, "Partitions", partitions),
  h("label", {}, "Replication factor", rf), h("label", {}, "Configs (name=value per line)", configs),
  h("button", { type: "submit" }, "Create topic"));
  setPage(h("h1", {}, "Topics"),
    table([["Name"], ["Partitions", "num"], ["Replication", "num"], ["Size", "num"], ["Under-replicated", "num"]],
      rows, "No topics yet."),
    h("h2", {}, "Create a topic"), form);
}

// "a=1\nb=2" → {a: "1", b: "2"}; a line without "=" is an error.
function parseProps(text) {
  const out = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter((l) => l)) {
    const i = line.indexOf("=");
    if (i <= 0) throw new ApiError("Not name=value: " + line);
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

async function topicPage(name) {
  const t = await api("GET", "/topics/" + enc(name));
  const partitions = t.partitions.map((p) => h("tr", {},
    h("td", { class: "num" }, String(p.partition)),
    h("td", { class: "num" }, String(p.leader)),
    h("td", {}, p.replicas.join(", ")),
    h("td", {}, p.isr.join(", "), p.isr.length < p.replicas.length ? tag("under-replicated", "bad") : null),
    h("td", { class: "num" }, offset(p.log_start)),
    h("td", { class: "num" }, offset(p.log_end)),
    h("td", { class: "num" }, bytes(p.size_bytes))));
  const configs = t.configs.map((c) => {
    const input = h("input", { value: c.value === null ? "" : c.value, disabled: c.read_only || c.sensitive,
      "aria-label": c.name });
    const save = h("button", { class: "secondary", disabled: c.read_only, onclick: async () => {
      try {
        await api("PATCH", "/topics/" + enc(name) + "/configs", { set: { [c.name]: input.value } });
        route("Set " + c.name + " = " + input.value);
      } catch (e) { showError(e.message); }
    } }, "Save");
    const reset = c.source === "DYNAMIC_TOPIC_CONFIG" ? h("button", { class: "secondary", onclick: async () => {
      try {
        await api("PATCH", "/topics/" + enc(name) + "/configs", { delete: [c.name] });
        route(c.name + " is back to its default");
      } catch (e) { showError(e.message); }
    } }, "Reset to default") : null;
    return h("tr", {}, h("td", {}, c.name), h("td", {}, input),
      h("td", {}, c.source === "DYNAMIC_TOPIC_CONFIG" ? tag("set on topic", "good") : tag("default")),
      h("td", {}, save, " ", reset));
  });
  const confirmInput = h("input", { placeholder: "type the topic name", id: "delete-confirm" });
  const deleteBox = h("form", { class: "inline", id: "delete-topic", onsubmit: async (ev) => {
    ev.preventDefault();
    if (confirmInput.value !== name) { showError("Type the topic's name exactly to delete it."); return; }
    try {
      await api("DELETE", "/topics/" + enc(name));
      location.hash = "#/topics";
    } catch (e) { showError(e.message); }
  } }, h("label", {}, "Delete this topic and all its records: type its name to confirm", confirmInput),
  h("button", { class: "danger", type: "submit" }, "Delete topic"));
  setPage(
    h("h1", {}, "Topic ", h("span", { id: "topic-name" }, t.name), t.internal ? tag("internal") : null),
    h("p", {}, h("a", { href: "#/topics/" + enc(name) + "/messages" }, "Browse messages →"),
      h("span", { class: "muted" }, "  topic id " + t.topic_id)),
    h("h2", {}, "Partitions"),
    table([["Partition", "num"], ["Leader", "num"], ["Replicas"], ["ISR"], ["Log start", "num"],
      ["Log end", "num"], ["Size", "num"]], partitions, "No partitions."),
    h("h2", {}, "Configs"),
    table([["Name"], ["Value"], ["Source"], [""]], configs, "No configs."),
    h("h2", {}, "Delete"), deleteBox);
}

// ---- messages -----------------------------------------------------------

async function messagesPage(name) {
  const t = await api("GET", "/topics/" + enc(name));
  const partition = h("select", { name: "partition" }, h("option", { value: "" }, "All"),
    t.partitions.map((p) => h("option", { value: p.partition }, String(p.partition))));
  const from = h("select", { name: "from" }, ["end", "beginning", "offset", "timestamp"]
    .map((f) => h("option", { value: f }, f)));
  const off = h("input", { name: "offset", placeholder: "offset", size: 8 });
  const ts = h("input", { name: "timestamp", type: "datetime-local", step: 1 });
  const limit = h("input", { name: "limit", type: "number", min: 1, max: 500, value: 50, size: 4 });
  const key = h("input", { name: "key", placeholder: "key contains" });
  const text = h("input", { name: "text", placeholder: "key, value or header contains" });
  const live = h("input", { type: "checkbox", name: "live" });
  const results = h("div", { id: "records" });
  let cursor = null;
  let shown = [];

  function query() {
    const q = new URLSearchParams();
    if (partition.value !== "") q.set("partition", partition.value);
    q.set("from", from.value);
    if (from.value === "offset") q.set("offset", off.value.trim());
    if (from.value === "timestamp") {
      const ms = Date.parse(ts.value);
      if (Number.isNaN(ms)) throw new ApiError("Choose a date and time to start from.");
      q.set("timestamp", String(ms));
    }
    q.set("limit", limit.value);
    if (key.value) q.set("key", key.value);
    if (text.value) q.set("text", text.value);
    return q;
  }

  async function load() {
    showError("");
    try {
      const page = await api("GET", "/topics/" + enc(name) + "/messages?" + query());
      shown = page.records;
      cursor = page.next;
      render(page);
      if (live.checked) schedule();
    } catch (e) { showError(e.message); results.replaceChildren(); }
  }

  async function poll() {
    tail = null;
    if (!live.checked || !cursor) return;
    try {
      const q = query();
      q.delete("from"); q.delete("offset"); q.delete("timestamp");
      q.set("cursor", Object.entries(cursor).map(([p, o]) => p + ":" + o).join(","));
      const page = await api("GET", "/topics/" + enc(name) + "/messages?" + q);
      cursor = Object.assign(cursor, page.next);
      if (page.records.length) {
        shown = shown.concat(page.records).slice(-Number(limit.value || 50));
        render({ records: shown, errors: page.errors });
      }
    } catch (e) { showError(e.message); }
    schedule();
  }

  function schedule() {
    if (tail) clearTimeout(tail);
    tail = setTimeout(poll, 1000);
  }

  function render(page) {
    const rows = page.records.map((r) => h("tr", {},
      h("td", { class: "num" }, String(r.partition)),
      h("td", { class: "num" }, String(r.offset)),
      h("td", {}, new Date(r.timestamp).toISOString()),
      h("td", {}, value(r.key)),
      h("td", {}, value(r.value)),
      h("td", {}, r.headers.map((hd) => h("div", {}, h("b", {}, hd.key + ": "), value(hd.value))))));
    const errors = Object.entries(page.errors || {}).map(([p, e]) =>
      h("p", { class: "error" }, "Partition " + p + " could not be read: " + e));
    results.replaceChildren(...errors,
      h("p", { class: "muted", id: "record-count" }, page.records.length + " records"),
      table([["Partition", "num"], ["Offset", "num"], ["Timestamp"], ["Key"], ["Value"], ["Headers"]],
        rows, "No records match."));
  }

  live.addEventListener("change", () => { if (live.checked) schedule(); else if (tail) clearTimeout(tail); });

  const controls = h("form", { class: "controls", id: "browse", onsubmit: (ev) => { ev.preventDefault(); load(); } },
    h("label", {}, "Partition", partition), h("label", {}, "From", from),
    h("label", {}, "Offset", off), h("label", {}, "Timestamp", ts), h("label", {}, "Limit", limit),
    h("label", {}, "Key filter", key), h("label", {}, "Text filter", text),
    h("label", {}, "Live tail", live),
    h("button", { type: "submit" }, "Load"));

  setPage(
    h("h1", {}, "Messages in ", h("a", { href: "#/topics/" + enc(name) }, name)),
    controls, results, h("h2", {}, "Produce a record"), produceForm(name, t.partitions.length, load));
  await load();
}

// A key, value or header value as the API shaped it: JSON pretty-printed,
// text as is, binary as hex, null marked; all as text nodes.
function value(v) {
  if (!v || v.encoding === "null") return h("span", { class: "muted" }, "null");
  return h("div", {}, v.encoding === "text" ? null : h("div", { class: "enc" }, v.encoding),
    h("pre", {}, v.text));
}

function produceForm(name, partitions, after) {
  const partition = h("select", { name: "partition" }, h("option", { value: "" }, "by key (Kafka's partitioner)"),
    Array.from({ length: partitions }, (_, i) => h("option", { value: i }, String(i))));
  const key = h("input", { name: "key", placeholder: "key (optional)" });
  const value = h("textarea", { name: "value", placeholder: "value" });
  const headers = h("textarea", { name: "headers", placeholder: "header=value per line" });
  return h("form", { class: "inline", id: "produce", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const body = { value: value.value, headers: Object.entries(parseProps(headers.value))
        .map(([k, v]) => ({ key: k, value: v })) };
      if (key.value !== "") body.key = key.value;
      if (partition.value !== "") body.partition = Number(partition.value);
      const r = await api("POST", "/topics/" + enc(name) + "/messages", body);
      showNotice("Produced to partition " + r.partition + " at offset " + r.offset + ".");
      await after();
    } catch (e) { showError(e.message); }
  } }, h("label", {}, "Partition", partition), h("label", {}, "Key", key), h("label", {}, "Value", value),
  h("label", {}, "Headers", headers), h("button", { type: "submit" }, "Produce"));
}

// ---- groups -------------------------------------------------------------

async function groupsPage() {
  const groups = await api("GET", "/groups");
  const rows = groups.map((g) => h("tr", {},
    h("td", {}, h("a", { href: "#/groups/" + enc(g.group_id) }, g.group_id)),
    h("td", {}, g.state),
    h("td", {}, g.group_type || g.protocol_type || "–"),
    h("td", { class: "num" }, g.lag === null ? "–" : String(g.lag))));
  setPage(h("h1", {}, "Consumer groups"),
    table([["Group"], ["State"], ["Type"], ["Lag", "num"]], rows, "No consumer groups."));
}

async function groupPage(id) {
  const g = await api("GET", "/groups/" + enc(id));
  const members = g.members.map((m) => h("tr", {},
    h("td", {}, m.member_id), h("td", {}, m.client_id), h("td", {}, m.client_host),
    h("td", {}, Object.entries(m.assignment).map(([t, ps]) => t + ": " + ps.join(", ")).join("; ") || "–")));
  const partitions = g.partitions.map((p) => h("tr", {},
    h("td", {}, p.topic), h("td", { class: "num" }, String(p.partition)),
    h("td", { class: "num" }, p.committed === null ? "–" : String(p.committed)),
    h("td", { class: "num" }, p.log_end === null ? "–" : String(p.log_end)),
    h("td", { class: "num lag" }, p.lag === null ? "–" : String(p.lag)),
    h("td", {}, p.client_id || "–")));
  const topics = [...new Set(g.partitions.map((p) => p.topic))];
  const to = h("select", { name: "to" }, ["earliest", "latest", "offset", "timestamp"]
    .map((v) => h("option", { value: v }, v)));
  const topic = h("select", { name: "topic" }, h("option", { value: "" }, "all committed"),
    topics.map((t) => h("option", { value: t }, t)));
  const off = h("input", { name: "offset", placeholder: "offset", size: 8 });
  const ts = h("input", { name: "timestamp", type: "datetime-local", step: 1 });
  const form = h("form", { class: "inline", id: "reset-offsets", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const body = { to: to.value };
      if (topic.value) body.topic = topic.value;
      if (to.value === "offset") {
        if (!/^\d+$/.test(off.value.trim())) throw new ApiError("The offset must be a whole number of 0 or more.");
        body.offset = Number(off.value.trim());
      }
      if (to.value === "timestamp") {
        const ms = Date.parse(ts.value);
        if (Number.isNaN(ms)) throw new ApiError("Choose a date and time to reset to.");
        body.timestamp = ms;
      }
      const r = await api("POST", "/groups/" + enc(id) + "/reset-offsets", body);
      route("Reset " + r.length + " partitions.");
    } catch (e) { showError(e.message); }
  } }, h("label", {}, "Reset to", to), h("label", {}, "Topic", topic), h("label", {}, "Offset", off),
  h("label", {}, "Timestamp", ts), h("button", { type: "submit" }, "Reset offsets"));
  setPage(
    h("h1", {}, "Group ", h("span", { id: "group-id" }, g.group_id), " ", tag(g.state)),
    h("div", { class: "cards" }, card("Members", g.members.length),
      h("div", { class: "card" }, h("div", { class: "n", id: "group-lag" }, g.lag === null ? "–" : String(g.lag)),
        h("div", { class: "muted" }, "Total lag"))),
    h("h2", {}, "Members"),
    table([["Member"], ["Client id"], ["Host"], ["Assignment"]], members, "No active members."),
    h("h2", {}, "Partitions"),
    table([["Topic"], ["Partition", "num"], ["Committed", "num"], ["Log end", "num"], ["Lag", "num"],
      ["Consumer"]], partitions, "No committed offsets."),
    h("h2", {}, "Reset offsets"),
    h("p", { class: "muted" }, "Only a group with no active members can be reset; stop its consumers first."),
    form);
}
