/**
 * Where the SDK keeps the session. The app implements it over SecureStore or
 * AsyncStorage; memoryTokenStore() is the default (tokens are lost on reload).
 */
export interface TokenStore {
  getAccessToken(): string | undefined | Promise<string | undefined>;
  getRefreshToken(): string | undefined | Promise<string | undefined>;
  setTokens(tokens: Tokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/** An in-memory TokenStore. */
export function memoryTokenStore(initial?: Partial<Tokens>): TokenStore {
  let access = initial?.accessToken;
  let refresh = initial?.refreshToken;
  return {
    getAccessToken: () => access,
    getRefreshToken: () => refresh,
    setTokens: (t) => {
      access = t.accessToken;
      refresh = t.refreshToken;
    },
    clear: () => {
      access = undefined;
      refresh = undefined;
    },
  };
}
