// @infliq/sdk/post: the post package's messages and service descriptor.
export * from "../gen/infliq/post/v1/post_pb.js";
