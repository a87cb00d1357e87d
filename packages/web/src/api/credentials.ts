import { SECRET_KEY_PATTERN } from "@vi/protocol";

/**
 * The signed-in organization and its secret key. Kept in sessionStorage only: it goes when the
 * tab closes, is never put in a URL, and is never logged. Every API call sends it as headers.
 */
export interface Credentials {
  organizationId: string;
  secretKey: string;
}

const KEY = "vi.credentials";

export function loadCredentials(): Credentials | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Partial<Credentials>;
    if (typeof parsed.organizationId !== "string" || typeof parsed.secretKey !== "string") return undefined;
    return { organizationId: parsed.organizationId, secretKey: parsed.secretKey };
  } catch {
    return undefined;
  }
}

export function saveCredentials(credentials: Credentials): void {
  sessionStorage.setItem(KEY, JSON.stringify(credentials));
}

export function clearCredentials(): void {
  sessionStorage.removeItem(KEY);
}

/** What is wrong with a key's shape before the server is asked (the server's own rule). */
export function secretKeyProblem(secretKey: string): string | undefined {
  if (SECRET_KEY_PATTERN.test(secretKey)) return undefined;
  return 'A secret key is "dtvi_" followed by 98 letters, digits, "-" or "_" (103 characters in all).';
}
