import { useEffect, useRef, useState } from "react";
import { AccountProvider } from "./components/Account";
import { ToastProvider } from "./components/Toasts";
import { useConnState, useHashRoute, useSession } from "./lib/hooks";
import { authHref, isAuthRoute, nextOf, splitRoute } from "./lib/nextRoute";
import { loadLastMarket } from "./lib/prefs";
import { logOut, refreshSession, SESSION_EXPIRED_NOTICE, startSession, subscribeSession, takeEndReason } from "./lib/session";
import { ws } from "./lib/ws";
import { AuthPage } from "./pages/AuthPage";
import { MarketsPage } from "./pages/MarketsPage";
import { TradePage } from "./pages/TradePage";

export function App() {
  const route = useHashRoute();
  const session = useSession();
  // the session ended without this browser's logout: the login page says so until the trader leaves it
  const [ended, setEnded] = useState(false);
  // the session kept from before expired while no page was open: a notice on the page opened, no detour
  const [expired, setExpired] = useState(false);
  const routeRef = useRef(route);
  routeRef.current = route;
  useEffect(
    () =>
      subscribeSession(() => {
        const why = takeEndReason();
        if (why === "expired") setExpired(true);
        if (why !== "ended") return;
        setEnded(true);
        const at = routeRef.current;
        if (!isAuthRoute(at)) window.location.hash = authHref("login", at).slice(1); // returns here after
      }),
    [],
  );
  const onAuthPage = isAuthRoute(route);
  useEffect(() => {
    if (!onAuthPage) setEnded(false);
  }, [onAuthPage]);
  const loggedIn = session !== null;
  useEffect(() => {
    if (loggedIn) setExpired(false);
  }, [loggedIn]);
  // routes that lead elsewhere, checked at every route change (from one auth page straight to the other,
  // "on an auth page" would not change):
  // - a logged-in trader has nothing to do on the log-in or sign-up page (a bookmark, the back button): on
  //   to the page it would lead to;
  // - "#/trade" names no market: the last one viewed, as the header's Trade link
  useEffect(() => {
    if (loggedIn && isAuthRoute(route)) window.location.replace(nextOf(route));
    else if (/^\/trade\/?$/.test(route)) window.location.replace(`#/trade/${loadLastMarket()}`);
  }, [loggedIn, route]);

  useEffect(() => {
    startSession();
    ws.start();
    let lastRefresh = 0;
    const offAuth = ws.onAuthError(() => {
      // at most one refresh per 10 s: a token the server keeps refusing must not loop
      if (Date.now() - lastRefresh < 10_000) return;
      lastRefresh = Date.now();
      void refreshSession();
    });
    return () => {
      offAuth();
      ws.stop();
    };
  }, []);
  useEffect(() => ws.setToken(session?.accessToken || null), [session?.accessToken]);

  let page;
  const { path } = splitRoute(route); // "/login?next=..." is the login page (lib/nextRoute.ts)
  const trade = /^\/trade\/([A-Za-z0-9_-]+)$/.exec(route);
  if (path === "/login") page = <AuthPage mode="login" route={route} next={nextOf(route)} ended={ended} />;
  else if (path === "/signup") page = <AuthPage mode="signup" route={route} next={nextOf(route)} ended={ended} />;
  else if (trade) page = <TradePage symbol={trade[1].toUpperCase()} />;
  else page = <MarketsPage />;

  return (
    <ToastProvider>
      <AccountProvider>
        <Header route={route} />
        {expired && !onAuthPage && (
          <p className="notice-bar" role="status" data-testid="session-expired">
            {SESSION_EXPIRED_NOTICE} <a href={authHref("login", route)}>Log in again</a>
            <button className="notice-close" aria-label="Dismiss" onClick={() => setExpired(false)}>
              ×
            </button>
          </p>
        )}
        <main>{page}</main>
      </AccountProvider>
    </ToastProvider>
  );
}

function Header({ route }: { route: string }) {
  const session = useSession();
  const conn = useConnState();
  const logout = () => {
    void logOut(); // ends the session here at once; the server revokes the cookie (retried if offline)
    window.location.hash = "/markets";
  };
  const label = conn === "open" ? "Live" : conn === "connecting" ? "Connecting…" : "Offline — reconnecting";
  return (
    <header className="topbar">
      <a className="brand" href="#/markets">
        <span aria-hidden="true">◆</span> <span className="brand-name">Exchange</span>
      </a>
      <nav aria-label="Main">
        <a href="#/markets" className={route === "/markets" ? "active" : ""}>
          Markets
        </a>
        <a href={`#/trade/${loadLastMarket()}`} className={route.startsWith("/trade") ? "active" : ""}>
          Trade
        </a>
      </nav>
      <span className="spacer" />
      <span className={`conn conn-${conn}`} data-testid="conn-state" data-state={conn} role="status" title={label} aria-label={`Connection: ${label}`}>
        <span className="dot" aria-hidden="true" />
        <span className="conn-label">{label}</span>
      </span>
      {session ? (
        <>
          <span className="muted small user" data-testid="user-email">
            {session.email}
          </span>
          <button className="btn btn-small" onClick={logout}>
            Log out
          </button>
        </>
      ) : (
        <>
          <a className="btn btn-small" href={authHref("login", route)}>
            Log in
          </a>
          <a className="btn btn-small btn-primary" href={authHref("signup", route)}>
            Sign up
          </a>
        </>
      )}
    </header>
  );
}
