// A DOM for @testing-library/react in Node: jsdom's window and document as
// globals, set before React loads. fetch stays Node's (the SDK's transport).
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>", { url: "http://localhost/" });
const g = globalThis as Record<string, unknown>;
for (const k of ["window", "document", "navigator", "HTMLElement", "Node", "Element", "Text", "DocumentFragment", "MutationObserver", "getComputedStyle"]) {
  Object.defineProperty(g, k, { value: (dom.window as unknown as Record<string, unknown>)[k], configurable: true, writable: true });
}
g.IS_REACT_ACT_ENVIRONMENT = true;

/** Stops jsdom's timers so the test process can exit. */
export function closeDom(): void {
  dom.window.close();
}
