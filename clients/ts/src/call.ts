// @infliq/sdk/call: the call package's messages and service descriptor.
export * from "../gen/infliq/call/v1/call_pb.js";
