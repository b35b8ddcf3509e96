package user

import (
	"context"

	"connectrpc.com/connect"

	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	"github.com/infliq/infliq/backend/gen/infliq/auth/v1/authv1connect"
	"github.com/infliq/infliq/backend/platform/id"
)

// ContactBook reads and sets a user's own contact details, which the auth
// service owns (they are logins).
type ContactBook interface {
	// Contact returns uid's phone and email; a NotFound error means none.
	Contact(ctx context.Context, uid id.ID) (phone, email string, err error)
	// SetEmail sets (or, empty, clears) uid's email.
	SetEmail(ctx context.Context, uid id.ID, email string) error
}

// AuthAccounts adapts the auth service's AuthInternalService to the user
// tier's ContactBook and to the session/credential purger of DeleteAccount.
type AuthAccounts struct {
	Client authv1connect.AuthInternalServiceClient
}

// Contact implements ContactBook.
func (a AuthAccounts) Contact(ctx context.Context, uid id.ID) (string, string, error) {
	res, err := a.Client.GetContact(ctx, connect.NewRequest(&authv1.GetContactRequest{UserId: uid.String()}))
	if err != nil {
		return "", "", err
	}
	return res.Msg.GetPhone(), res.Msg.GetEmail(), nil
}

// SetEmail implements ContactBook.
func (a AuthAccounts) SetEmail(ctx context.Context, uid id.ID, email string) error {
	_, err := a.Client.SetEmail(ctx, connect.NewRequest(&authv1.SetEmailRequest{UserId: uid.String(), Email: email}))
	return err
}

// PurgeUser revokes every session of uid, then deletes their credentials.
// Both calls are idempotent.
func (a AuthAccounts) PurgeUser(ctx context.Context, uid id.ID) error {
	if _, err := a.Client.RevokeUserSessions(ctx, connect.NewRequest(&authv1.RevokeUserSessionsRequest{UserId: uid.String()})); err != nil {
		return err
	}
	_, err := a.Client.DeleteCredentials(ctx, connect.NewRequest(&authv1.DeleteCredentialsRequest{UserId: uid.String()}))
	return err
}
