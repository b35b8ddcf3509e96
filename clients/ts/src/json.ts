/**
 * serialize and deserialize are JSON for query-cache persisters
 * (createSyncStoragePersister({ serialize, deserialize })): SDK messages are
 * JSON-safe except google.protobuf.Timestamp's bigint seconds, which
 * round-trip here as {"$bigint": "…"}. Read timestamps with timestampDate.
 */
export function serialize(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? { $bigint: v.toString() } : v));
}

export function deserialize<T = unknown>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) =>
    v !== null && typeof v === "object" && typeof (v as { $bigint?: unknown }).$bigint === "string" && Object.keys(v).length === 1
      ? BigInt((v as { $bigint: string }).$bigint)
      : v,
  ) as T;
}
