// @infliq/sdk/media: MediaService, its messages and uploadFile.
export * from "../gen/infliq/media/v1/media_pb.js";
export { uploadFile, type UploadFileOptions, type UploadSource, type UploadEnv, type XhrLike } from "./upload.js";
