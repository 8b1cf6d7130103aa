package lakebasetest

import (
	"fmt"
	"strings"
)

// DSNs are ready-made lakebase DSNs for a kit, one per auth mode. They hold
// the kit's secrets: don't log them.
type DSNs struct {
	// M2M logs in to the default instance as the default service principal.
	M2M string
	// PAT logs in to the default instance as the default user with a
	// personal access token.
	PAT string
	// U2M logs in to the default instance as the default user with
	// auth=oauth-u2m; it needs a Databricks CLI login or a browser (see the
	// Workspace's OpenBrowser).
	U2M string
	// Password logs in to the default instance's gateway as the native role.
	Password string
	// Endpoint logs in to the default endpoint as the default service
	// principal.
	Endpoint string
}

// DSNs returns the kit's ready-made DSNs. All verify the gateways'
// certificates against the kit's CA.
func (k *Kit) DSNs() DSNs {
	tls := "sslmode=verify-full sslrootcert=" + quoteDSN(k.Postgres.CAFile())
	ws := "workspace=" + quoteDSN(k.Workspace.URL())
	m2m := fmt.Sprintf("auth=oauth-m2m client_id=%s client_secret=%s", quoteDSN(k.ServicePrincipal.ApplicationID), quoteDSN(k.ServicePrincipal.Secret))
	instance := "instance=" + quoteDSN(DefaultInstance)
	rw := k.InstanceGateway()
	return DSNs{
		M2M:      strings.Join([]string{instance, ws, m2m, tls}, " "),
		PAT:      strings.Join([]string{instance, ws, "auth=pat token=" + quoteDSN(k.User.Token), tls}, " "),
		U2M:      strings.Join([]string{instance, ws, "auth=oauth-u2m", tls}, " "),
		Password: fmt.Sprintf("host=%s port=%d user=%s password=%s auth=password %s", rw.Host(), rw.Port(), quoteDSN(k.NativeRole), quoteDSN(k.NativePassword), tls),
		Endpoint: strings.Join([]string{"endpoint=" + quoteDSN(DefaultEndpoint), ws, m2m, tls}, " "),
	}
}

// quoteDSN quotes a value for a key/value DSN.
func quoteDSN(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
