import { createContext, useContext, useMemo, useState, type ReactNode } from "react";
import { ViApi } from "./api/client.js";
import { clearCredentials, loadCredentials, saveCredentials, type Credentials } from "./api/credentials.js";

interface Session {
  api: ViApi | undefined;
  signIn(credentials: Credentials): void;
  signOut(): void;
}

const SessionContext = createContext<Session | undefined>(undefined);

/** Who is signed in: the API client built from the credentials in sessionStorage. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [credentials, setCredentials] = useState(loadCredentials);
  const session = useMemo<Session>(
    () => ({
      api: credentials ? new ViApi(credentials) : undefined,
      signIn(next) {
        saveCredentials(next);
        setCredentials(next);
      },
      signOut() {
        clearCredentials();
        setCredentials(undefined);
      },
    }),
    [credentials],
  );
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}

/** The API client of a signed-in view (the router only renders those when signed in). */
export function useApi(): ViApi {
  const { api } = useSession();
  if (!api) throw new Error("not signed in");
  return api;
}
