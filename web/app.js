// alsreco storefront page: plain JS, no build step, nothing from a CDN.
// Talks to POST {apiBase}/recommendations (api/handler.py) and reads catalogue.json.
"use strict";

(function () {
  const config = Object.assign({ apiBase: "", apiKey: "", catalogueUrl: "catalogue.json" },
                               window.ALSRECO_CONFIG || {});
  config.apiBase = String(config.apiBase || "").replace(/\/+$/, "");
  const REASONS = {
    model: "For you", popular: "Best seller", new_product: "New", forced: "Featured", similar: "Similar",
  };
  const $ = (id) => document.getElementById(id);
  const state = { products: [], byId: new Map(), basket: [], mode: "customer" };

  // ---- small DOM helpers (text only: nothing from the API is parsed as HTML) ----
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function showError(message, requestId) {
    const box = $("error");
    box.replaceChildren(el("strong", {}, "Something went wrong: "), message);
    if (requestId) box.append(el("span", { class: "rid" }, ` (request ${requestId})`));
    box.hidden = false;
  }
  function clearError() { $("error").hidden = true; $("error").replaceChildren(); }
  function setStatus(text) { $("status").textContent = text; }

  // ---- the API ----
  async function recommend(body) {
    const headers = { "Content-Type": "application/json" };
    if (config.apiKey) headers["X-Api-Key"] = config.apiKey;
    let resp;
    try {
      resp = await fetch(`${config.apiBase}/recommendations`, { method: "POST", headers, body: JSON.stringify(body) });
    } catch (err) {
      throw { message: `could not reach the recommendation API at ${config.apiBase || location.origin} (${err.message})` };
    }
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON: handled below */ }
    if (!resp.ok) {
      const msg = (data && (data.error || data.message)) || `the API answered ${resp.status} ${resp.statusText}`;
      throw { message: msg, requestId: data && data.request_id, status: resp.status };
    }
    if (!data || !Array.isArray(data.recommendations)) throw { message: "the API answered without recommendations" };
    return data;
  }

  function rules() {
    const body = { k: Number($("k").value), exclude_purchased: $("rule-exclude-bought").checked };
    if ($("rule-exclude-popular").checked) body.exclude_popular = 10;
    if ($("rule-include-new").checked) body.include_new = 2;
    return body;
  }

  // ---- rendering ----
  function nameOf(rec) {
    const known = state.byId.get(rec.product_id);
    return rec.name || (known && known.name) || "(no name)";
  }

  function card(rec, rank) {
    const reason = rec.reason || "model";
    const button = el("button", { type: "button", class: "card", title: "Show similar products",
                                  "data-product-id": rec.product_id },
      el("span", { class: "rank" }, rank),
      el("span", { class: "name" }, nameOf(rec)),
      el("span", { class: "meta" },
        el("span", { class: "pid" }, rec.product_id),
        el("span", { class: "score" }, typeof rec.score === "number" ? rec.score.toFixed(3) : ""),
        el("span", { class: `reason reason-${reason}` }, REASONS[reason] || reason)));
    button.addEventListener("click", () => similar(rec.product_id, nameOf(rec)));
    return el("li", {}, button);
  }

  function render(list, recs) {
    list.replaceChildren(...recs.map((rec, i) => card(rec, i + 1)));
    if (!recs.length) list.replaceChildren(el("li", { class: "empty" }, "No products left after the rules."));
  }

  async function run(body, title) {
    clearError();
    setStatus("Asking the model…");
    $("results-title").textContent = title;
    try {
      const data = await recommend(body);
      render($("results"), data.recommendations);
      const unknown = (data.unknown_items || []).length ? ` · unknown ids ignored: ${data.unknown_items.join(", ")}` : "";
      const who = data.known === false ? " · new customer" : "";
      setStatus(`${data.recommendations.length} products · model ${data.model_version || "?"}${who}${unknown}`);
      $("similar-box").hidden = true;
    } catch (err) {
      $("results").replaceChildren();
      setStatus("");
      showError(err.message || String(err), err.requestId);
    }
  }

  async function similar(productId, name) {
    clearError();
    $("similar-box").hidden = false;
    $("similar-title").textContent = `Similar to ${name}`;
    $("similar").replaceChildren(el("li", { class: "empty" }, "Loading…"));
    try {
      const data = await recommend({ item_id: productId, k: Number($("k").value) });
      render($("similar"), data.recommendations);
    } catch (err) {
      $("similar").replaceChildren();
      showError(err.message || String(err), err.requestId);
    }
    $("similar-box").scrollIntoView({ block: "nearest" });
  }

  // ---- basket and search ----
  function renderBasket() {
    $("basket").replaceChildren(...state.basket.map((p) => {
      const remove = el("button", { type: "button", class: "remove", title: `Remove ${p.name}` }, "×");
      remove.addEventListener("click", () => { state.basket = state.basket.filter((b) => b.id !== p.id); renderBasket(); });
      return el("li", { "data-product-id": p.id }, el("span", {}, p.name), remove);
    }));
    $("basket-count").textContent = String(state.basket.length);
    $("basket-go").disabled = state.basket.length === 0;
  }

  function search(text) {
    const words = text.trim().toUpperCase().split(/\s+/).filter(Boolean);
    const hits = words.length ? state.products.filter((p) => words.every((w) => p.name.toUpperCase().includes(w)
                                                                   || p.id.toUpperCase() === w)).slice(0, 8) : [];
    $("search-results").replaceChildren(...hits.map((p) => {
      const add = el("button", { type: "button", "data-product-id": p.id }, el("span", {}, p.name),
                     el("small", {}, ` ${p.id}${p.new ? " · new" : ""}`));
      add.addEventListener("click", () => {
        if (!state.basket.some((b) => b.id === p.id)) state.basket.push(p);
        renderBasket();
      });
      return el("li", {}, add);
    }));
    if (words.length && !hits.length) $("search-results").replaceChildren(el("li", { class: "empty" }, "No product matches."));
  }

  function setMode(mode) {
    state.mode = mode;
    for (const [m, form] of [["customer", "customer-form"], ["basket", "basket-form"]]) {
      $(form).hidden = m !== mode;
      $(`mode-${m}`).classList.toggle("active", m === mode);
      $(`mode-${m}`).setAttribute("aria-selected", String(m === mode));
    }
  }

  async function loadCatalogue() {
    try {
      const resp = await fetch(config.catalogueUrl);
      if (!resp.ok) throw new Error(`${config.catalogueUrl}: ${resp.status}`);
      const cat = await resp.json();
      state.products = cat.products || [];
      state.byId = new Map(state.products.map((p) => [p.id, p]));
      $("customer-list").replaceChildren(...(cat.customers || []).map((c) => el("option", { value: c })));
      $("model-version").textContent = `${state.products.length} products · model ${cat.model_version || "?"}`;
    } catch (err) {
      $("model-version").textContent = "no catalogue";
      showError(`the product catalogue could not be loaded (${err.message}); product search is off`);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("mode-customer").addEventListener("click", () => setMode("customer"));
    $("mode-basket").addEventListener("click", () => setMode("basket"));
    $("customer-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const id = $("customer-id").value.trim();
      if (id) run({ customer_id: id, ...rules() }, `Recommended for customer ${id}`);
    });
    $("basket-form").addEventListener("submit", (e) => {
      e.preventDefault();
      if (state.basket.length) {
        run({ items: state.basket.map((p) => p.id), ...rules() },
            `Recommended for a basket of ${state.basket.length} product${state.basket.length > 1 ? "s" : ""}`);
      }
    });
    $("product-search").addEventListener("input", (e) => search(e.target.value));
    loadCatalogue();
  });
})();
