// alsreco storefront page: plain JS, no build step, nothing from a CDN, no inline script (the page's
// Content-Security-Policy forbids it). Talks to the storefront API (api/handler.py):
//   POST {apiBase}/recommendations          anyone: this visit's products, similar products, best sellers
//   POST {apiBase}/me/recommendations       signed in (ID token): the shopper's own recommendations
//   POST {apiBase}/staff/recommendations    staff group: any customer
//   POST {apiBase}/events, /me/events       this visit's views and basket actions (config.events: events.js)
// and reads catalogue.json (products only). Sign-in: auth.js. With events on, the visit lives in the
// API (the next list follows it); without, the page sends its basket as `items` with each request.
"use strict";

(function () {
  const config = Object.assign({ apiBase: "", apiKey: "", catalogueUrl: "catalogue.json", signIn: null,
                                 events: false }, window.ALSRECO_CONFIG || {});
  config.apiBase = String(config.apiBase || "").replace(/\/+$/, "");
  const auth = window.AlsrecoAuth.create(config.signIn);
  const visit = window.AlsrecoEvents.create(Boolean(config.events), (path, body, signedIn) => (
    signedIn ? postSignedIn(path, body, false) : post(path, body, false, false)), () => Boolean(auth.who()));
  const REASONS = {
    model: "For you", popular: "Best seller", new_product: "New", forced: "Featured", similar: "Similar",
  };
  const $ = (id) => document.getElementById(id);
  const state = { products: [], byId: new Map(), basket: [], viewed: [], seq: 0, staffCustomer: null };

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
  // `list`: the answer must be a list of recommendations (else: any JSON object, e.g. POST /events)
  async function post(path, body, signedIn, list = true) {
    const headers = { "Content-Type": "application/json" };
    if (config.apiKey) headers["X-Api-Key"] = config.apiKey;
    if (signedIn) {
      const token = await auth.idToken();
      if (!token) throw { message: "your sign-in has expired: sign in again", status: 401 };
      headers.Authorization = token;
    }
    let resp;
    try {
      resp = await fetch(`${config.apiBase}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    } catch (err) {
      throw { message: `could not reach the recommendation API at ${config.apiBase || location.origin} (${err.message})` };
    }
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON: handled below */ }
    if (!resp.ok) {
      const msg = (data && (data.error || data.message)) || `the API answered ${resp.status} ${resp.statusText}`;
      throw { message: msg, requestId: data && data.request_id, status: resp.status };
    }
    if (list && (!data || !Array.isArray(data.recommendations))) {
      throw { message: "the API answered without recommendations" };
    }
    if (data) data.visit = resp.headers.get("X-Alsreco-Visit");     // applied | none | expired | unavailable
    return data;
  }

  // A signed-in call; on 401 the tokens are refreshed once, then the shopper is signed out.
  async function postSignedIn(path, body, list = true) {
    try {
      return await post(path, body, true, list);
    } catch (err) {
      if (err.status !== 401 || !(await auth.refresh())) {
        if (err.status === 401) { auth.forget(); renderAccount(); }
        throw err;
      }
      return post(path, body, true, list);
    }
  }

  // Record events, then (the API keeps the visit) nothing else: the caller asks for the next list.
  // A failure to record is shown but never blocks browsing.
  async function record(events) {
    try {
      await visit.send(events);
    } catch (err) {
      showError(`your visit could not be recorded: ${err.message || err}`, err.requestId);
    }
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

  function card(rec, rank, recommendationId) {
    const reason = rec.reason || "model";
    const button = el("button", { type: "button", class: "card", title: "Show similar products",
                                  "data-product-id": rec.product_id },
      el("span", { class: "rank" }, rank),
      el("span", { class: "name" }, nameOf(rec)),
      el("span", { class: "meta" },
        el("span", { class: "pid" }, rec.product_id),
        el("span", { class: "score" }, typeof rec.score === "number" ? rec.score.toFixed(3) : ""),
        el("span", { class: `reason reason-${reason}` }, REASONS[reason] || reason)));
    button.addEventListener("click", () => view(rec.product_id, nameOf(rec), recommendationId));
    return el("li", {}, button);
  }

  function render(list, recs, recommendationId) {
    list.replaceChildren(...recs.map((rec, i) => card(rec, i + 1, recommendationId)));
    if (!recs.length) list.replaceChildren(el("li", { class: "empty" }, "No products left after the rules."));
  }

  // Ask, and show the answer unless a newer request was made meanwhile.
  async function run(ask, title, note) {
    const seq = ++state.seq;
    clearError();
    setStatus("Asking the model…");
    $("results-title").textContent = title;
    try {
      const data = await ask();
      if (seq !== state.seq) return;
      render($("results"), data.recommendations, data.recommendation_id);
      const unknown = (data.unknown_items || []).length ? ` · unknown ids ignored: ${data.unknown_items.join(", ")}` : "";
      const lost = data.visit === "unavailable" ? " · your visit could not be read: not part of this list" : "";
      setStatus(`${data.recommendations.length} products · model ${data.model_version || "?"}${note ? note(data) : ""}`
                + `${unknown}${lost}`);
      $("similar-box").hidden = true;
    } catch (err) {
      if (seq !== state.seq) return;
      $("results").replaceChildren();
      setStatus("");
      showError(err.message || String(err), err.requestId);
    }
  }

  // What this visitor sees: their own recommendations (signed in) or this visit's (anonymous).
  function showMine() {
    state.staffCustomer = null;
    const items = state.basket.map((p) => p.id);
    // with events on, the API holds the visit (the session's or the account's events); else send the basket
    const body = { ...rules(), ...(visit.enabled ? visit.visitBody() : (items.length ? { items } : {})) };
    const who = auth.who();
    if (who) {
      return run(() => postSignedIn("/me/recommendations", body), "Recommended for you");
    }
    const n = new Set([...items, ...(visit.enabled ? state.viewed.map((p) => p.id) : [])]).size;
    const title = n ? `Recommended for this visit (${n} product${n > 1 ? "s" : ""})` : "Best sellers";
    return run(() => post("/recommendations", body, false), title);
  }

  function staffLookup(customerId) {
    state.staffCustomer = customerId;
    return run(() => postSignedIn("/staff/recommendations", { customer_id: customerId, ...rules() }),
               `Customer ${customerId} (staff view)`,
               (data) => (data.known === false ? " · unknown customer: best sellers" : " · known customer"));
  }

  function refresh() {
    return state.staffCustomer ? staffLookup(state.staffCustomer) : showMine();
  }

  async function similar(productId, name) {
    $("similar-box").hidden = false;
    $("similar-title").textContent = `Similar to ${name}`;
    $("similar").replaceChildren(el("li", { class: "empty" }, "Loading…"));
    try {
      const data = await post("/recommendations", { item_id: productId, k: Number($("k").value) }, false);
      render($("similar"), data.recommendations, data.recommendation_id);
    } catch (err) {
      $("similar").replaceChildren();
      showError(err.message || String(err), err.requestId);
    }
    $("similar-box").scrollIntoView({ block: "nearest" });
  }

  // A shopper looks at a product (from a list, or found by name): a `view` event, the product's
  // similar products, and - the visit having changed - the next list.
  async function view(productId, name, recommendationId) {
    clearError();
    if (visit.enabled) {
      const product = state.byId.get(productId) || { id: productId, name };
      if (!state.viewed.some((p) => p.id === productId)) state.viewed.push(product);
      renderViewed();
      await record([{ type: "view", product_id: productId,
                      ...(recommendationId ? { recommendation_id: recommendationId } : {}) }]);
      if (!state.staffCustomer) await showMine();
    }
    await similar(productId, name);
  }

  // ---- this visit's products (the session: folded into the recommendations) ----
  function renderBasket() {
    $("basket").replaceChildren(...state.basket.map((p) => {
      const remove = el("button", { type: "button", class: "remove", title: `Remove ${p.name}` }, "×");
      remove.addEventListener("click", async () => {
        state.basket = state.basket.filter((b) => b.id !== p.id);
        renderBasket();
        await record([{ type: "remove_from_cart", product_id: p.id }]);
        showMine();
      });
      return el("li", { "data-product-id": p.id }, el("span", {}, p.name), remove);
    }));
    $("basket-count").textContent = String(state.basket.length);
    $("buy").hidden = !visit.enabled || !state.basket.length;
  }

  async function addToBasket(p) {
    if (state.basket.some((b) => b.id === p.id)) return;
    state.basket.push(p);
    renderBasket();
    await record([{ type: "add_to_cart", product_id: p.id }]);
    showMine();
  }

  async function buy() {
    const bought = state.basket;
    state.basket = [];
    renderBasket();
    await record(bought.map((p) => ({ type: "purchase", product_id: p.id })));
    setStatus(`Bought ${bought.length} product${bought.length > 1 ? "s" : ""}`);
    showMine();
  }

  function renderViewed() {
    $("viewed").replaceChildren(...state.viewed.slice(-8).map((p) => el("li", { "data-product-id": p.id }, p.name)));
    $("viewed-box").hidden = !state.viewed.length;
  }

  function search(text) {
    const words = text.trim().toUpperCase().split(/\s+/).filter(Boolean);
    const hits = words.length ? state.products.filter((p) => words.every((w) => p.name.toUpperCase().includes(w)
                                                                   || p.id.toUpperCase() === w)).slice(0, 8) : [];
    $("search-results").replaceChildren(...hits.map((p) => {
      const look = el("button", { type: "button", class: "view", "data-product-id": p.id, title: "Look at it" },
                      el("span", {}, p.name), el("small", {}, ` ${p.id}${p.new ? " · new" : ""}`));
      look.addEventListener("click", () => view(p.id, p.name));
      const add = el("button", { type: "button", class: "add", "data-product-id": p.id,
                                 title: `Add ${p.name} to the basket` }, "+");
      add.addEventListener("click", () => addToBasket(p));
      return el("li", {}, look, add);
    }));
    if (words.length && !hits.length) $("search-results").replaceChildren(el("li", { class: "empty" }, "No product matches."));
  }

  // ---- account ----
  function renderAccount() {
    const who = auth.who();
    $("sign-in-form").hidden = !auth.enabled || Boolean(who);
    $("signed-in").hidden = !who;
    $("signed-in-as").textContent = who ? `Signed in as ${who.name}` : "";
    $("staff-panel").hidden = !((who && who.staff) || location.hash === "#staff");
  }

  async function signIn(e) {
    e.preventDefault();
    clearError();
    const button = $("sign-in-go");
    button.disabled = true;
    try {
      await auth.signIn($("sign-in-email").value.trim(), $("sign-in-password").value);
      $("sign-in-password").value = "";
      renderAccount();
      await showMine();
    } catch (err) {
      showError(`sign-in failed: ${err.message || err}`);
    } finally {
      button.disabled = false;
    }
  }

  async function signOut() {
    await auth.signOut();
    renderAccount();
    await showMine();
  }

  async function loadCatalogue() {
    try {
      const resp = await fetch(config.catalogueUrl);
      if (!resp.ok) throw new Error(`${config.catalogueUrl}: ${resp.status}`);
      const cat = await resp.json();
      state.products = cat.products || [];
      state.byId = new Map(state.products.map((p) => [p.id, p]));
      $("model-version").textContent = `${state.products.length} products · model ${cat.model_version || "?"}`;
    } catch (err) {
      $("model-version").textContent = "no catalogue";
      showError(`the product catalogue could not be loaded (${err.message}); product search is off`);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", signOut);
    $("staff-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const id = $("customer-id").value.trim();
      if (id) staffLookup(id);
    });
    $("staff-clear").addEventListener("click", () => showMine());
    $("buy").addEventListener("click", buy);
    $("visit-hint").textContent = visit.enabled
      ? "What you look at and put in the basket shapes this visit's recommendations: the shop keeps this "
        + "visit's events for a day, and uses them to train its model."
      : "What you add here shapes the recommendations of this visit; it is sent with each request and kept nowhere.";
    $("product-search").addEventListener("input", (e) => search(e.target.value));
    for (const id of ["rule-exclude-bought", "rule-exclude-popular", "rule-include-new", "k"]) {
      $(id).addEventListener("change", refresh);
    }
    window.addEventListener("hashchange", renderAccount);
    renderAccount();
    loadCatalogue().then(showMine);
  });
})();
