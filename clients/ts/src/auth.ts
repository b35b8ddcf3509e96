// @infliq/sdk/auth: the auth package's messages and service descriptor.
export * from "../gen/infliq/auth/v1/auth_pb.js";
