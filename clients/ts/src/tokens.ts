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

/** The async key-value API of expo-secure-store (and of AsyncStorage with a thin shim). */
export interface AsyncKeyValue {
  getItemAsync(key: string): Promise<string | null>;
  setItemAsync(key: string, value: string): Promise<void>;
  deleteItemAsync(key: string): Promise<void>;
}

/**
 * keyValueTokenStore keeps the session in a key-value store, e.g.
 * `keyValueTokenStore(SecureStore)` with `import * as SecureStore from
 * "expo-secure-store"`. The default keys are the legacy app's ("authToken"),
 * so a user who upgrades stays signed in. Reads are cached after the first.
 */
export function keyValueTokenStore(kv: AsyncKeyValue, keys = { access: "authToken", refresh: "refreshToken" }): TokenStore {
  let cache: Promise<Partial<Tokens>> | undefined;
  const load = () =>
    (cache ??= Promise.all([kv.getItemAsync(keys.access), kv.getItemAsync(keys.refresh)]).then(([a, r]) => ({
      accessToken: a ?? undefined,
      refreshToken: r ?? undefined,
    })));
  return {
    getAccessToken: async () => (await load()).accessToken,
    getRefreshToken: async () => (await load()).refreshToken,
    async setTokens(t) {
      cache = Promise.resolve({ ...t });
      await kv.setItemAsync(keys.access, t.accessToken);
      await kv.setItemAsync(keys.refresh, t.refreshToken);
    },
    async clear() {
      cache = Promise.resolve({});
      await kv.deleteItemAsync(keys.access);
      await kv.deleteItemAsync(keys.refresh);
    },
  };
}
