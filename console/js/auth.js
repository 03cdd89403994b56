// Staff sign-in. Deployed: the Cognito hosted UI, authorization code with PKCE; the
// tokens stay in memory (a reload signs in again through the hosted UI's own session).
// Locally: the stack's dev sign-in page mints a staff token and hands it back in the
// URL fragment, which is read once and removed from the address bar and history.
import { session } from "./core.js";
import { t } from "./i18n.js";

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      [...atob(part)].map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    return JSON.parse(json);
  } catch (error) {
    return null;
  }
}

// `cognito:groups` is a list locally and a string behind API Gateway (DESIGN.md traps).
export function isStaff(claims) {
  const groups = claims && claims["cognito:groups"];
  if (Array.isArray(groups)) return groups.includes("staff");
  return typeof groups === "string" && /(^|[\s\[,])staff([\s\],]|$)/.test(groups);
}

function expired(claims) {
  return !claims || (claims.exp && claims.exp * 1000 < Date.now());
}

async function pkceRedirect(returnTo) {
  const auth = session.config.auth;
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("pkce", JSON.stringify({ verifier, state, returnTo }));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: auth.client_id,
    redirect_uri: auth.redirect_uri,
    scope: "openid email profile",
    code_challenge_method: "S256",
    code_challenge: challenge,
    state,
  });
  location.assign(auth.domain + "/oauth2/authorize?" + params);
}

async function exchange(code, state) {
  const saved = JSON.parse(sessionStorage.getItem("pkce") || "{}");
  sessionStorage.removeItem("pkce");
  if (!saved.state || saved.state !== state) throw new Error(t("signin.state"));
  const auth = session.config.auth;
  const response = await fetch(auth.domain + "/oauth2/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: auth.client_id, code, redirect_uri: auth.redirect_uri, code_verifier: saved.verifier }),
  });
  if (!response.ok) throw new Error(t("signin.failed"));
  const tokens = await response.json();
  session.refresh = tokens.refresh_token || null;
  history.replaceState(null, "", location.pathname + (saved.returnTo || "#/queue"));
  return tokens.id_token;
}

// Renews the IdToken with the refresh token (in memory) a little before it expires.
async function renew() {
  const auth = session.config.auth;
  if (!session.refresh || !auth) return false;
  const response = await fetch(auth.domain + "/oauth2/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", client_id: auth.client_id, refresh_token: session.refresh }),
  });
  if (!response.ok) return false;
  accept((await response.json()).id_token);
  return true;
}

function accept(token) {
  session.token = token;
  session.claims = claimsOf(token);
  const left = session.claims && session.claims.exp ? session.claims.exp * 1000 - Date.now() - 120000 : 0;
  if (left > 0 && session.refresh) setTimeout(() => renew(), left);
}

export function signIn(reason) {
  const returnTo = location.hash && !location.hash.startsWith("#token=") ? location.hash : "#/queue";
  session.token = null;
  if (session.config.signin === "cognito") return pkceRedirect(returnTo);
  const params = new URLSearchParams({ to: returnTo });
  if (reason) params.set("reason", reason);
  location.assign("dev-signin?" + params);
  return null;
}

export function signOut() {
  session.token = null;
  session.refresh = null;
  const auth = session.config.auth;
  if (session.config.signin === "cognito") {
    const params = new URLSearchParams({ client_id: auth.client_id, logout_uri: auth.redirect_uri });
    location.assign(auth.domain + "/logout?" + params);
  } else {
    location.assign("dev-signin?signed_out=1");
  }
}

// Returns "staff" when signed in as staff, "refused" for someone who is not, or null
// while the browser is on its way to sign in.
export async function startSession() {
  const response = await fetch("config.json", { cache: "no-store" });
  session.config = await response.json();
  session.signin = signIn;
  let token = null;
  if (location.hash.startsWith("#token=")) {
    const fragment = new URLSearchParams(location.hash.slice(1));
    token = fragment.get("token");
    history.replaceState(null, "", location.pathname + (fragment.get("to") || "#/queue"));
  } else if (session.config.signin === "cognito") {
    const search = new URLSearchParams(location.search);
    if (search.get("code")) token = await exchange(search.get("code"), search.get("state"));
  }
  const claims = token ? claimsOf(token) : null;
  if (!token || expired(claims)) {
    signIn();
    return null;
  }
  accept(token);
  return isStaff(claims) ? "staff" : "refused";
}
