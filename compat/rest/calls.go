package rest

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"

	callv1 "github.com/infliq/infliq/backend/gen/infliq/call/v1"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/compat/legacyjson"
)

// Legacy call routes (contract §A.7, §A.10, §B.2 rows 24–28). Unlike the
// legacy backends, only participants act on a call, only the receiver
// accepts or rejects, and a token covers only the room of one's own call.
func (rt *Router) registerCalls() {
	rt.authed("POST /api/calls/token", rt.callToken)
	rt.authed("POST /api/calls/initiate", rt.initiateCall)
	rt.authed("POST /api/calls/{id}/accept", rt.acceptCall)
	rt.authed("POST /api/calls/{id}/reject", rt.rejectCall)
	rt.authed("POST /api/calls/{id}/end", rt.endCall)
	rt.authed("GET /api/calls/history", rt.callHistory)
}

// callHistoryCap is the legacy history size (50 newest).
const callHistoryCap = 50

func (rt *Router) callToken(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	var in struct {
		RoomName any `json:"roomName"`
	}
	if err := decodeJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	room, _ := in.RoomName.(string)
	if room == "" || len(room) > 128 {
		writeError(w, apperr.BadRequest("roomName is required"))
		return
	}
	res, err := rt.d.Clients.Call.CreateCallToken(r.Context(), Forward(r, connect.NewRequest(&callv1.CreateCallTokenRequest{RoomName: room})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": res.Msg.GetToken(), "roomName": res.Msg.GetRoomName(), "identity": res.Msg.GetIdentity()})
}

var legacyCallTypes = map[string]callv1.CallType{"": callv1.CallType_CALL_TYPE_VIDEO, "video": callv1.CallType_CALL_TYPE_VIDEO, "audio": callv1.CallType_CALL_TYPE_AUDIO}

func (rt *Router) initiateCall(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	var in struct {
		ReceiverID any `json:"receiverId"`
		Type       any `json:"type"`
	}
	if err := decodeJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	rid, _ := in.ReceiverID.(string)
	typ, isStr := in.Type.(string)
	ct, ok := legacyCallTypes[typ]
	if !id.Valid(rid) {
		writeError(w, apperr.BadRequest("Invalid receiverId"))
		return
	}
	if (in.Type != nil && !isStr) || !ok {
		writeError(w, apperr.BadRequest("type must be audio or video"))
		return
	}
	res, err := rt.d.Clients.Call.InitiateCall(r.Context(), Forward(r, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: rid, Type: ct})))
	if err != nil {
		writeError(w, err)
		return
	}
	c := res.Msg.GetCall()
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "callId": c.GetId(), "roomName": c.GetRoomName()})
}

// callIDParam reads {id}; anything that is not a call id is "Call not found".
func callIDParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	cid := strings.ToLower(r.PathValue("id"))
	if !id.Valid(cid) {
		writeError(w, apperr.NotFound("Call not found"))
		return "", false
	}
	return cid, true
}

func (rt *Router) acceptCall(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	cid, ok := callIDParam(w, r)
	if !ok {
		return
	}
	res, err := rt.d.Clients.Call.AcceptCall(r.Context(), Forward(r, connect.NewRequest(&callv1.AcceptCallRequest{CallId: cid})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "roomName": res.Msg.GetCall().GetRoomName(), "callId": cid})
}

func (rt *Router) rejectCall(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	cid, ok := callIDParam(w, r)
	if !ok {
		return
	}
	if _, err := rt.d.Clients.Call.RejectCall(r.Context(), Forward(r, connect.NewRequest(&callv1.RejectCallRequest{CallId: cid}))); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

func (rt *Router) endCall(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	cid, ok := callIDParam(w, r)
	if !ok {
		return
	}
	res, err := rt.d.Clients.Call.EndCall(r.Context(), Forward(r, connect.NewRequest(&callv1.EndCallRequest{CallId: cid})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "duration": res.Msg.GetCall().GetDurationSeconds()})
}

var legacyCallStatus = map[callv1.CallStatus]string{
	callv1.CallStatus_CALL_STATUS_RINGING: "ringing", callv1.CallStatus_CALL_STATUS_ACTIVE: "active",
	callv1.CallStatus_CALL_STATUS_ENDED: "ended", callv1.CallStatus_CALL_STATUS_REJECTED: "rejected",
	callv1.CallStatus_CALL_STATUS_MISSED: "missed",
}

// legacyCall renders a call like the legacy populated document.
func legacyCall(c *callv1.Call) map[string]any {
	typ := "video"
	if c.GetType() == callv1.CallType_CALL_TYPE_AUDIO {
		typ = "audio"
	}
	users := legacyParticipants([]*commonv1.UserSummary{c.GetCaller(), c.GetReceiver()})
	out := map[string]any{
		"_id": c.GetId(), "id": c.GetId(), "callerId": users[0], "receiverId": users[1],
		"type": typ, "status": legacyCallStatus[c.GetStatus()], "roomName": c.GetRoomName(), "duration": c.GetDurationSeconds(),
		"createdAt": legacyjson.Time(c.GetCreatedAt()), "__v": 0,
	}
	if c.StartedAt != nil {
		out["startedAt"] = legacyjson.Time(c.GetStartedAt())
	}
	if c.EndedAt != nil {
		out["endedAt"] = legacyjson.Time(c.GetEndedAt())
	}
	return out
}

func (rt *Router) callHistory(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	res, err := rt.d.Clients.Call.ListCallHistory(r.Context(), Forward(r, connect.NewRequest(&callv1.ListCallHistoryRequest{
		Page: &commonv1.PageRequest{Limit: callHistoryCap}})))
	if err != nil {
		writeError(w, err)
		return
	}
	calls := make([]map[string]any, 0, len(res.Msg.GetCalls()))
	for _, c := range res.Msg.GetCalls() {
		calls = append(calls, legacyCall(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": calls})
}
