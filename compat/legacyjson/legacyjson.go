// Package legacyjson renders shapes the legacy Node backends sent, shared by
// the REST routes (compat/rest) and the Socket.IO events (realtime).
package legacyjson

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
)

// Time renders a timestamp as JavaScript's Date.toISOString() does.
func Time(ts *timestamppb.Timestamp) string {
	return ts.AsTime().UTC().Format("2006-01-02T15:04:05.000Z")
}

var msgType = map[chatv1.MessageType]string{
	chatv1.MessageType_MESSAGE_TYPE_TEXT: "text", chatv1.MessageType_MESSAGE_TYPE_CALL_STARTED: "call-started",
	chatv1.MessageType_MESSAGE_TYPE_CALL_ENDED: "call-ended", chatv1.MessageType_MESSAGE_TYPE_CALL_MISSED: "call-missed",
}

// Message renders a message the way the legacy backends serialised the
// embedded sub-document: {_id, senderId, text, type, read, createdAt}, plus
// id, chatId and callId.
func Message(m *chatv1.Message) map[string]any {
	out := map[string]any{
		"_id": m.GetId(), "id": m.GetId(), "chatId": m.GetChatId(), "senderId": m.GetSenderId(), "text": m.GetText(),
		"type": msgType[m.GetType()], "read": false, "createdAt": Time(m.GetCreatedAt()),
	}
	if m.GetCallId() != "" {
		out["callId"] = m.GetCallId()
	}
	return out
}
