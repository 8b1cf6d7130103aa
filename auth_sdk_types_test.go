package lakebase_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/common/environment"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Every other login method of the Databricks SDK is accepted by its name
// and passed to the SDK; a name the SDK does not know is a DSN error that
// lists them.
func TestAuthSDKTypesParse(t *testing.T) {
	for _, name := range []string{"azure-cli", "azure-client-secret", "azure-msi", "azure-devops-oidc", "github-oidc",
		"github-oidc-azure", "env-oidc", "file-oidc", "google-credentials", "google-id", "databricks-cli", "metadata-service"} {
		cfg, err := lakebase.ParseDSN("instance=db auth=" + strings.ToUpper(name))
		if err != nil || string(cfg.Auth) != name {
			t.Errorf("auth=%s: %v, %v", name, cfg, err)
			continue
		}
		if _, err := lakebase.ParseDSN("instance=db pooled=true auth=" + name); !errors.Is(err, lakebase.ErrInvalidDSN) {
			t.Errorf("auth=%s with pooled=true: %v, want ErrInvalidDSN (its credentials are OAuth)", name, err)
		}
	}
	_, err := lakebase.ParseDSN("instance=db auth=azure-magic")
	if !errors.Is(err, lakebase.ErrInvalidDSN) || !strings.Contains(err.Error(), "azure-client-secret") {
		t.Errorf("auth=azure-magic: %v, want ErrInvalidDSN listing the SDK's auth types", err)
	}
}

// auth=databricks-cli is the SDK's own Databricks CLI login, chosen by name:
// the driver logs in as the CLI's user through it.
func TestAuthDatabricksCLIByName(t *testing.T) {
	kit := sharedKit(t)
	token, life := userAccessToken(t, kit)
	dir, calls := fakeCLI(t, kit.Workspace.URL(), token, time.Now().Add(life))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	logger, logs := debugLogger()
	conn, db := openConnector(t, "instance="+lakebasetest.DefaultInstance+" auth=databricks-cli workspace="+quote(kit.Workspace.URL())+" "+tlsKeys(kit),
		func(c *lakebase.Config) { c.Logger = logger })
	if got := mustCurrentUser(t, db); got != kit.User.Email {
		t.Errorf("current_user = %q, want the CLI's user %q", got, kit.User.Email)
	}
	if called, err := os.ReadFile(calls); err != nil || !strings.Contains(string(called), "auth token") {
		t.Errorf("the Databricks CLI was not asked for a token (calls: %q, %v)", called, err)
	}
	var s secrets
	s.addKit(kit)
	s.add(token)
	s.addCredential(t, conn)
	s.check(t, logs)
}

// An Azure or GCP workspace (the host metadata's cloud) goes through every
// path the driver owns as an AWS one does: the identity's user name (the
// service principal's application id, a person's e-mail from SCIM), the
// instance and endpoint lookups, the mints, and the errors.
func TestWorkspaceClouds(t *testing.T) {
	for _, cloud := range []string{"Azure", "GCP", "AWS"} {
		t.Run(cloud, func(t *testing.T) {
			e := newFaultEnv(t)
			if err := e.kit.Workspace.SetCloud(environment.Cloud(cloud)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.kit.Workspace.SetCloud("AWS") })
			sp := e.kit.ServicePrincipal

			db, _ := e.open(e.dsn())
			if got := mustCurrentUser(t, db); got != sp.ApplicationID {
				t.Errorf("m2m: current_user = %q, want %q", got, sp.ApplicationID)
			}
			db, _ = e.open(e.dsnWith("instance="+e.instance, "auth=pat token="+quote(e.kit.User.Token)))
			if got := mustCurrentUser(t, db); got != e.kit.User.Email {
				t.Errorf("pat: current_user = %q, want %q", got, e.kit.User.Email)
			}
			db, _ = e.open(e.dsnWith("endpoint="+lakebasetest.DefaultEndpoint, m2mAuth(sp)))
			if got := mustCurrentUser(t, db); got != sp.ApplicationID {
				t.Errorf("endpoint: current_user = %q, want %q", got, sp.ApplicationID)
			}
			db, _ = e.open(e.dsnWith("instance=no-such-"+strings.ToLower(cloud), m2mAuth(sp)))
			err := e.ping(db, 10*time.Second)
			wantConnectError(t, err, "resolve", strconv.Quote("no-such-"+strings.ToLower(cloud)), "not found")
			if !errors.Is(err, lakebase.ErrNotFound) {
				t.Errorf("errors.Is(%v, ErrNotFound) = false", err)
			}
			e.waitNoLeaksAfterClose()
		})
	}
}
