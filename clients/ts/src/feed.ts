// @infliq/sdk/feed: the feed package's messages and service descriptor.
export * from "../gen/infliq/feed/v1/feed_pb.js";
