package lakebasepgx_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasepgx"
)

// kitCA is the kit's root certificate, for sslrootcert.
const kitCA = "../lakebasetest/internal/certs/testdata/ca.pem"

// tlsConnector returns a connector in native-password mode with sslmode,
// which connects nowhere until asked.
func tlsConnector(t *testing.T, sslmode string) *lakebase.Connector {
	t.Helper()
	c, err := lakebase.NewConnector(&lakebase.Config{
		Host: "127.0.0.1", Port: 1, User: "u", Password: "secret-password", SSLMode: sslmode,
		Params: map[string]string{"sslrootcert": kitCA},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Configure refuses, naming what conflicts, a pool's TLS settings that the
// connector's TLS, which replaces them, cannot stand in for; it takes
// those that ask for no more than the connector gives.
func TestConfigureRefusesTLSTheConnectorCannotGive(t *testing.T) {
	t.Parallel()
	withCertificate := func(cfg *pgxpool.Config) {
		cfg.ConnConfig.TLSConfig.Certificates = []tls.Certificate{{}}
	}
	tests := []struct {
		pool      string // pgx's connection string
		change    func(*pgxpool.Config)
		connector string // its sslmode
		want      string // in the error; "" for none
	}{
		{pool: "sslmode=disable", connector: "disable"},
		{pool: "sslmode=prefer", connector: "disable"},
		{pool: "sslmode=allow", connector: "disable"},
		{pool: "sslmode=disable", connector: "verify-full"},
		{pool: "sslmode=require", connector: "disable", want: "never falls back to plaintext, and the connector's sslmode=disable"},
		{pool: "sslmode=require", connector: "require"},
		{pool: "sslmode=verify-ca sslrootcert=" + kitCA, connector: "require", want: "sslmode=verify-ca"},
		{pool: "sslmode=require sslrootcert=" + kitCA, connector: "require", want: "verifies the server's certificate"},
		{pool: "sslmode=verify-ca sslrootcert=" + kitCA, connector: "verify-ca"},
		{pool: "sslmode=verify-full sslrootcert=" + kitCA, connector: "verify-ca", want: "host name, and the connector's sslmode=verify-ca does not: give the connector sslmode=verify-full"},
		{pool: "sslmode=verify-full sslrootcert=" + kitCA, connector: "verify-full"},
		{pool: "sslmode=require sslcertmode=require", connector: "verify-full", want: "client certificate"},
		{pool: "sslmode=require", change: withCertificate, connector: "verify-full", want: "client certificate"},
	}
	for _, tt := range tests {
		// A host of TCP: pgx runs no TLS to a Unix socket, its default.
		poolCfg, err := pgxpool.ParseConfig("host=db.example " + tt.pool)
		if err != nil {
			t.Fatalf("%s: %v", tt.pool, err)
		}
		if tt.change != nil {
			tt.change(poolCfg)
		}
		err = lakebasepgx.Configure(poolCfg, tlsConnector(t, tt.connector))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("pool %q, connector sslmode=%s: %v; want no error", tt.pool, tt.connector, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("pool %q, connector sslmode=%s: %v; want an error saying %q", tt.pool, tt.connector, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "secret-password"):
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if err := lakebasepgx.Configure(&pgxpool.Config{}, tlsConnector(t, "require")); err == nil || !strings.Contains(err.Error(), "pgxpool.ParseConfig") {
		t.Errorf("Configure of a pgxpool.Config not made by ParseConfig: %v; want an error naming pgxpool.ParseConfig", err)
	}
}

// TLS settings that a BeforeConnect hook changes are checked at each
// connect: the Acquire fails with Configure's error, before any dial.
func TestConfigureChecksTLSThatBeforeConnectSets(t *testing.T) {
	t.Parallel()
	poolCfg, err := pgxpool.ParseConfig("host=db.example sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	poolCfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		cc.TLSConfig = &tls.Config{ServerName: "db.example"}
		return nil
	}
	if err := lakebasepgx.Configure(poolCfg, tlsConnector(t, "require")); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Acquire(testContext(t, time.Minute)); err == nil || !strings.Contains(err.Error(), "host name, and the connector's sslmode=require") {
		t.Errorf("acquire with a hook's TLS that verifies the host name, connector sslmode=require: %v; want Configure's refusal", err)
	}
}
