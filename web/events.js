// alsreco storefront: this visit's events (views, basket actions, purchases) to the API, which keeps
// them so the next list follows the visit (docs/live.md). An anonymous visit is known by the
// session_id the API gave in its first answer (kept in sessionStorage: gone when the tab closes);
// a signed-in shopper's events go to /me/events, under their account (the token says who).
"use strict";

window.AlsrecoEvents = (function () {
  const KEY = "alsreco.visit";

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  // `post(path, body, signedIn)` is the page's API call (app.js); `signedIn()` says whether to use /me/events.
  function create(enabled, post, signedIn) {
    function sessionId() { return sessionStorage.getItem(KEY); }
    function forget() { sessionStorage.removeItem(KEY); }

    async function send(events) {
      if (!enabled || !events.length) return null;
      const stamped = events.map((e) => ({ event_id: newId(), timestamp: new Date().toISOString(), ...e }));
      if (signedIn()) return post("/me/events", { events: stamped }, true);
      const attempt = () => {
        const sid = sessionId();
        return post("/events", { events: stamped, ...(sid ? { session_id: sid } : {}) }, false);
      };
      let data;
      try {
        data = await attempt();
      } catch (err) {
        // an id this API no longer accepts (another deployment's key): start a new visit once
        if (err.status !== 400 || !String(err.message || "").startsWith("session_id:")) throw err;
        forget();
        data = await attempt();
      }
      if (data && data.session_id) sessionStorage.setItem(KEY, data.session_id);
      return data;
    }

    // what a recommendations request carries of the visit (anonymous only: the token says who otherwise)
    function visitBody() {
      const sid = sessionId();
      return enabled && sid && !signedIn() ? { session_id: sid } : {};
    }

    return { enabled, send, visitBody, forget };
  }

  return { create };
})();
