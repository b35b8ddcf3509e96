// @infliq/sdk/notifications: NotificationService, its messages and the
// notifications client (createNotifications(core)).
export * from "../gen/infliq/notify/v1/notify_pb.js";
export {
  createNotifications,
  notificationUpdate,
  pushRoute,
  type PushRoute,
  type NotificationsClient,
  type ListOptions,
  type PushPlatformName,
} from "./notify.js";
