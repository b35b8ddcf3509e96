// @infliq/sdk/realtime: RealtimeService, its messages and the managed subscription.
export * from "../gen/infliq/realtime/v1/realtime_pb.js";
export { createRealtime, type Realtime, type RealtimeState, type SubscribeOptions, type Subscription } from "./realtime.js";
