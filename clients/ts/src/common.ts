// @infliq/sdk/common: the common package's messages.
export * from "../gen/infliq/common/v1/common_pb.js";
