// @infliq/sdk/chat: the chat package's messages and service descriptor.
export * from "../gen/infliq/chat/v1/chat_pb.js";
