import { fromBinary, toBinary, type DescMessage, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, appendHeaders, createContextValues, type ContextValues, type Interceptor, type Transport } from "@connectrpc/connect";
import { createEnvelopeReadableStream, createMethodUrl, encodeEnvelope, runStreamingCall, runUnaryCall } from "@connectrpc/connect/protocol";
import { endStreamFlag, endStreamFromJson, errorFromJson, requestHeader, trailerDemux, validateResponse } from "@connectrpc/connect/protocol-connect";

export interface BinaryTransportOptions {
  baseUrl: string;
  fetch?: typeof globalThis.fetch;
  interceptors?: Interceptor[];
}

/**
 * createBinaryTransport is the Connect protocol over fetch with the binary
 * codec only: unary calls POST application/proto, server streams use
 * application/connect+proto envelopes, errors are the protocol's small JSON
 * (read with JSON.parse; details stay binary, see classifyError). It is
 * connect-web's transport without the protobuf JSON codec and its type
 * registry, which would otherwise be most of an app's SDK bytes. Same
 * Transport interface, so createClient and connect-query take it as is.
 * The protocol helpers it reuses are @connectrpc/connect's private exports:
 * the dependency is pinned to an exact version for that reason.
 */
export function createBinaryTransport(opts: BinaryTransportOptions): Transport {
  const timeout = (ms: number | undefined) => (ms !== undefined && ms <= 0 ? undefined : ms);
  // The request fields unary calls and streams share.
  const request = <M extends DescMethod>(method: M, timeoutMs: number | undefined, header: HeadersInit | undefined, contextValues: ContextValues | undefined) => ({
    service: method.parent,
    method,
    requestMethod: "POST",
    url: createMethodUrl(opts.baseUrl, method),
    header: requestHeader(method.methodKind, true, timeoutMs, header, false),
    contextValues: contextValues ?? createContextValues(),
  });
  const post = (req: { url: string; header: Headers; signal: AbortSignal }, body: Uint8Array) =>
    (opts.fetch ?? globalThis.fetch)(req.url, { method: "POST", headers: req.header, signal: req.signal, body: body as BodyInit, redirect: "error" });
  return {
    async unary(method, signal, timeoutMs, header, message, contextValues) {
      timeoutMs = timeout(timeoutMs);
      return runUnaryCall({
        interceptors: opts.interceptors,
        signal,
        timeoutMs,
        req: { stream: false, ...request(method, timeoutMs, header, contextValues), message },
        next: async (req) => {
          const res = await post(req, toBinary(method.input, req.message));
          const { isUnaryError, unaryError } = validateResponse(method.methodKind, true, res.status, res.headers);
          const [header, trailer] = trailerDemux(res.headers);
          if (isUnaryError) {
            // A body that is not the Connect error JSON (a proxy's page) keeps the status's code.
            const body = (await res.json().catch(() => null)) as Parameters<typeof errorFromJson>[0];
            throw errorFromJson(body, appendHeaders(header, trailer), unaryError!);
          }
          return {
            stream: false,
            service: method.parent,
            method,
            header,
            message: fromBinary(method.output, new Uint8Array(await res.arrayBuffer())),
            trailer,
          };
        },
      });
    },

    async stream(method, signal, timeoutMs, header, input, contextValues) {
      timeoutMs = timeout(timeoutMs);
      return runStreamingCall({
        interceptors: opts.interceptors,
        signal,
        timeoutMs,
        req: { stream: true, ...request(method, timeoutMs, header, contextValues), message: input },
        next: async (req) => {
          if (method.methodKind !== "server_streaming") {
            throw new ConnectError("fetch cannot stream request bodies", Code.Unimplemented);
          }
          const first = await req.message[Symbol.asyncIterator]().next();
          if (first.done) throw new ConnectError("missing request message", Code.Internal);
          const res = await post(req, encodeEnvelope(0, toBinary(method.input, first.value)));
          validateResponse(method.methodKind, true, res.status, res.headers);
          if (!res.body) throw new ConnectError("missing response body", Code.Internal);
          const trailer = new Headers();
          return {
            ...req,
            header: res.headers,
            trailer,
            message: readStream(method.output, res.body, res.headers, trailer, req.signal),
          };
        },
      });
    },
  };
}

// readStream is a hand-written async iterator: Hermes has no async generators.
function readStream<O extends DescMessage>(desc: O, body: ReadableStream<Uint8Array>, header: Headers, trailer: Headers, signal: AbortSignal): AsyncIterable<MessageShape<O>> {
  const reader = createEnvelopeReadableStream(body).getReader();
  let ended = false;
  const next = async (): Promise<IteratorResult<MessageShape<O>>> => {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        // Node does not throw on read when the signal was aborted before
        // getReader; older React Native signals lack throwIfAborted.
        if ("throwIfAborted" in signal) signal.throwIfAborted();
        if (!ended) throw new ConnectError("missing EndStreamResponse", Code.Internal);
        return { done: true, value: undefined };
      }
      const { flags, data } = r.value;
      if (flags & 1) throw new ConnectError("protocol error: received unsupported compressed output", Code.Internal);
      if (!(flags & endStreamFlag)) return { done: false, value: fromBinary(desc, data) };
      ended = true;
      const end = endStreamFromJson(data);
      if (end.error) {
        const err = end.error;
        header.forEach((v, k) => err.metadata.append(k, v));
        throw err;
      }
      end.metadata.forEach((v, k) => trailer.set(k, v));
    }
  };
  const ret = async (): Promise<IteratorResult<MessageShape<O>>> => {
    await reader.cancel().catch(() => undefined);
    return { done: true, value: undefined };
  };
  return { [Symbol.asyncIterator]: () => ({ next, return: ret }) };
}
