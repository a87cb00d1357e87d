import { Link, Redirect, Route, Switch, useLocation, useSearch } from "wouter";
import { SessionProvider, useSession } from "./session.js";
import { SignIn } from "./views/SignIn.js";
import { DatasetList } from "./views/DatasetList.js";
import { DatasetView } from "./views/DatasetView.js";

/**
 * Routes (the server answers each with index.html):
 *   /sign-in                               the secret key and organization
 *   /datasets                              the organization's datasets
 *   /datasets/:datasetId?q&sort&order      a dataset's grid under a query
 *   /datasets/:datasetId/assets/:assetId   one asset over that grid (same query string)
 */
export function App() {
  return (
    <SessionProvider>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Routes />
      </main>
    </SessionProvider>
  );
}

function Header() {
  const { api, signOut } = useSession();
  return (
    <header className="app-header">
      <Link href="/datasets" className="brand">
        Vi gallery
      </Link>
      {api && (
        <>
          <span className="org" title="Organization">
            {api.credentials.organizationId}
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </>
      )}
    </header>
  );
}

/** A shared address opened while signed out: sign in, then land on it (`?next=`, a path of this app). */
function SignInFirst() {
  const [location] = useLocation();
  const search = useSearch();
  const next = location.startsWith("/datasets")
    ? `?next=${encodeURIComponent(location + (search ? `?${search}` : ""))}`
    : "";
  return <Redirect to={`/sign-in${next}`} replace />;
}

function Routes() {
  const { api } = useSession();
  if (!api)
    return (
      <Switch>
        <Route path="/sign-in" component={SignIn} />
        <Route>
          <SignInFirst />
        </Route>
      </Switch>
    );
  return (
    <Switch>
      <Route path="/datasets" component={DatasetList} />
      <Route path="/datasets/:datasetId" nest>
        {(params) => <DatasetView datasetId={params.datasetId} />}
      </Route>
      <Route>
        <Redirect to="/datasets" replace />
      </Route>
    </Switch>
  );
}
