package lakebasetest

import (
	"context"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/iam"
)

// A forwarded token logs in as its user until it is revoked; each call
// issues another; an unknown user gets none.
func TestForwardedToken(t *testing.T) {
	w, _ := wsStart(t)
	ctx := context.Background()
	first, err := w.ForwardedToken(wsUserEmail)
	wsMust(t, err)
	second, err := w.ForwardedToken(wsUserEmail)
	wsMust(t, err)
	if first == second {
		t.Fatal("two forwarded tokens are the same")
	}
	for _, tok := range []string{first, second} {
		me, err := wsClient(t, w, wsPAT(tok)).CurrentUser.Me(ctx, iam.MeRequest{})
		if err != nil || me.UserName != wsUserEmail {
			t.Fatalf("SCIM Me with a forwarded token: %v, %v; want %s", me, err, wsUserEmail)
		}
	}
	w.RevokeToken(first)
	if _, err := wsClient(t, w, wsPAT(first)).CurrentUser.Me(ctx, iam.MeRequest{}); err == nil {
		t.Error("a revoked token still logs in")
	}
	if _, err := wsClient(t, w, wsPAT(second)).CurrentUser.Me(ctx, iam.MeRequest{}); err != nil {
		t.Errorf("revoking one token revoked another: %v", err)
	}
	if _, err := w.ForwardedToken("nobody@example.com"); err == nil {
		t.Error("a forwarded token for an unknown user")
	}
}
