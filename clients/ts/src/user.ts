// @infliq/sdk/user: the user package's messages and service descriptor.
export * from "../gen/infliq/user/v1/user_pb.js";
