// alsreco storefront: sign-in with a Cognito user pool over plain fetch (no SDK, nothing from a CDN).
// InitiateAuth (USER_PASSWORD_AUTH, then REFRESH_TOKEN_AUTH) against config.signIn.endpoint, the
// tokens kept in sessionStorage (gone when the tab closes). The page sends the ID token to the API;
// what the token says is verified there, never here: the claims read below only label the page.
"use strict";

window.AlsrecoAuth = (function () {
  const KEY = "alsreco.session";
  const SKEW_MS = 60 * 1000;   // refresh a little before the ID token expires

  function claimsOf(jwt) {
    try {
      const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const text = atob(part + "=".repeat((4 - (part.length % 4)) % 4));
      return JSON.parse(decodeURIComponent(Array.from(text, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join("")));
    } catch (_) {
      return {};
    }
  }

  function create(signIn) {
    const enabled = Boolean(signIn && signIn.endpoint && signIn.clientId);

    async function call(target, body) {
      let resp;
      try {
        resp = await fetch(signIn.endpoint, {
          method: "POST",
          headers: { "Content-Type": "application/x-amz-json-1.1",
                     "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}` },
          body: JSON.stringify(body),
        });
      } catch (err) {
        throw { message: `could not reach the sign-in service (${err.message})` };
      }
      let data = {};
      try { data = await resp.json(); } catch (_) { /* no JSON body */ }
      if (!resp.ok) {
        const type = String(data.__type || "").split("#").pop();
        // one message whether the user exists or not: the page must not tell which emails have accounts
        if (["NotAuthorizedException", "UserNotFoundException"].includes(type)) {
          throw { message: "wrong email or password", kind: "credentials" };
        }
        throw { message: `sign-in failed (${type || resp.status})` };
      }
      return data;
    }

    function load() {
      try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (_) { return null; }
    }
    function save(session) { sessionStorage.setItem(KEY, JSON.stringify(session)); }

    function store(result, refreshToken) {
      const idToken = result.IdToken;
      const claims = claimsOf(idToken);
      const session = {
        idToken, accessToken: result.AccessToken, refreshToken: result.RefreshToken || refreshToken,
        expiresAt: claims.exp ? claims.exp * 1000 : Date.now() + (result.ExpiresIn || 3600) * 1000,
      };
      save(session);
      return session;
    }

    async function signInWith(email, password) {
      const data = await call("InitiateAuth", { ClientId: signIn.clientId, AuthFlow: "USER_PASSWORD_AUTH",
                                                AuthParameters: { USERNAME: email, PASSWORD: password } });
      if (!data.AuthenticationResult) {
        throw { message: `sign-in needs a step this page does not support (${data.ChallengeName || "unknown"})` };
      }
      return store(data.AuthenticationResult);
    }

    async function refresh() {
      const session = load();
      if (!session || !session.refreshToken) return null;
      try {
        const data = await call("InitiateAuth", { ClientId: signIn.clientId, AuthFlow: "REFRESH_TOKEN_AUTH",
                                                  AuthParameters: { REFRESH_TOKEN: session.refreshToken } });
        return store(data.AuthenticationResult, session.refreshToken);
      } catch (_) {
        sessionStorage.removeItem(KEY);
        return null;
      }
    }

    // The ID token to send, refreshed when it is (about to be) expired; null when signed out.
    async function idToken() {
      const session = load();
      if (!session) return null;
      if (Date.now() < session.expiresAt - SKEW_MS) return session.idToken;
      const renewed = await refresh();
      return renewed && renewed.idToken;
    }

    async function signOut() {
      const session = load();
      sessionStorage.removeItem(KEY);
      if (session && session.accessToken) {
        try { await call("GlobalSignOut", { AccessToken: session.accessToken }); } catch (_) { /* best effort */ }
      }
    }

    function who() {
      const session = load();
      if (!session) return null;
      const claims = claimsOf(session.idToken);
      const groups = claims["cognito:groups"] || [];
      return { name: claims.email || claims["cognito:username"] || "you",
               staff: (Array.isArray(groups) ? groups : String(groups).split(",")).includes(signIn.staffGroup || "staff") };
    }

    return { enabled, signIn: signInWith, signOut, idToken, refresh, who, forget: () => sessionStorage.removeItem(KEY) };
  }

  return { create, claimsOf };
})();
