package controlplane

import (
	"context"
	"errors"

	"github.com/databricks/databricks-sdk-go/service/iam"
)

// UserName is the Postgres user of the calling identity: for oauth-m2m the
// service principal's client id, with no call; otherwise the userName of
// SCIM Me (a person's e-mail, or a service principal's application id).
// Errors are *Error with step identity.
func (c *Client) UserName(ctx context.Context) (string, error) {
	if c.mode == AuthM2M && c.clientID != "" {
		return c.clientID, nil
	}
	ctx, err := c.prepare(ctx)
	if err != nil {
		return "", fail(StepIdentity, "", err)
	}
	me, err := c.w.CurrentUser.Me(ctx, iam.MeRequest{})
	if err != nil {
		return "", fail(StepIdentity, "", err)
	}
	if me.UserName == "" {
		return "", &Error{Step: StepIdentity, Err: errors.New("the workspace returned no userName for the caller")}
	}
	return me.UserName, nil
}
