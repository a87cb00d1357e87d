import { useState, type FormEvent } from "react";
import { useLocation, useSearch } from "wouter";
import { ViApi } from "../api/client.js";
import { secretKeyProblem } from "../api/credentials.js";
import { describeError } from "../api/errors.js";
import { useSession } from "../session.js";

/** Sign-in: the organization and its secret key, checked against the server before they are kept. */
export function SignIn() {
  const { signIn } = useSession();
  const [, navigate] = useLocation();
  const search = useSearch();
  const [organizationId, setOrganizationId] = useState("");
  const [secretKey, setSecretKey] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const credentials = { organizationId: organizationId.trim(), secretKey: secretKey.trim() };
    const problem = secretKeyProblem(credentials.secretKey);
    if (problem) return setError(problem);
    setBusy(true);
    setError(undefined);
    try {
      await new ViApi(credentials).organization();
      signIn(credentials);
      navigate(nextPath(search), { replace: true });
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="sign-in">
      <h1>Sign in</h1>
      <p>
        The organization and secret key are in the server&apos;s <code>vi-data/credentials.json</code>. They are kept in
        this tab only (session storage) and are never put in an address.
      </p>
      <form onSubmit={submit}>
        <label htmlFor="org">Organization</label>
        <input
          id="org"
          name="organization"
          autoComplete="username"
          required
          value={organizationId}
          onChange={(e) => setOrganizationId(e.target.value)}
        />
        <label htmlFor="key">Secret key</label>
        <input
          id="key"
          name="secret-key"
          type="password"
          autoComplete="current-password"
          required
          value={secretKey}
          onChange={(e) => setSecretKey(e.target.value)}
        />
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </section>
  );
}

/** Where to go once signed in: the address that was opened (only a path of this app), else the datasets. */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get("next");
  return next && /^\/datasets(\/|\?|$)/.test(next) ? next : "/datasets";
}
