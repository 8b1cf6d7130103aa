package lakebase

import (
	"context"

	"github.com/lakebase-go/lakebase/internal/controlplane"
)

// workspaceUser is the Postgres user of the workspace identity: a service
// principal's client id, or SCIM Me's userName, asked once and cached.
func workspaceUser(client *lazy[*controlplane.Client], life *lifetime) *lazy[string] {
	return &lazy[string]{life: life, kind: lookupIdentity, load: func(ctx context.Context) (string, error) {
		c, err := client.get(ctx)
		if err != nil {
			return "", err
		}
		return c.UserName(ctx)
	}}
}
