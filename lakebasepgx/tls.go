package lakebasepgx

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lakebase-go/lakebase"
)

// tlsLevel ranks what a connection's TLS asks of the server.
type tlsLevel int

const (
	tlsPlain     tlsLevel = iota // plaintext may be used
	tlsEncrypted                 // always TLS, whatever the certificate
	tlsChain                     // the certificate's chain is verified
	tlsHostName                  // and so is its host name
)

// tlsAsks says what a pool's TLS configuration of a level asks for, and
// tlsModeFor the connector's sslmode that gives it.
var (
	tlsAsks = map[tlsLevel]string{
		tlsEncrypted: "never falls back to plaintext",
		tlsChain:     "verifies the server's certificate",
		tlsHostName:  "verifies the server's certificate and host name",
	}
	tlsModeFor = map[tlsLevel]string{tlsEncrypted: "require", tlsChain: "verify-ca", tlsHostName: "verify-full"}
)

// checkTLS refuses a pool's TLS configuration (cfg's TLSConfig and
// Fallbacks, as pgx's sslmode made them or as the application set them)
// that asks for more than the connector's TLS, which replaces it, gives:
// TLS where the connector's sslmode is disable, a verified certificate
// where it verifies none (require; libpq's require with a root certificate
// counts as no verification here: say verify-ca), a verified host name
// where it verifies only the chain, or a client certificate, which the
// connector never presents.
func checkTLS(cfg *pgconn.Config, connector *lakebase.Connector) error {
	tlsConfigs := []*tls.Config{cfg.TLSConfig}
	for _, fb := range cfg.Fallbacks {
		tlsConfigs = append(tlsConfigs, fb.TLSConfig)
	}
	want := tlsHostName
	for _, tc := range tlsConfigs {
		want = min(want, levelOf(tc))
		if tc != nil && (len(tc.Certificates) > 0 || tc.GetClientCertificate != nil) {
			return errClientCertificate
		}
	}
	if cfg.SSLCertMode == "require" {
		return errClientCertificate
	}
	sslmode := connector.SSLMode()
	if want > connectorLevel(sslmode) {
		return fmt.Errorf("lakebasepgx: configure: the pool's TLS configuration %s, and the connector's sslmode=%s does not: give the connector sslmode=%s (pgx's TLS settings are replaced by the connector's)",
			tlsAsks[want], sslmode, tlsModeFor[want])
	}
	return nil
}

// errClientCertificate refuses a pool's client certificate.
var errClientCertificate = errors.New("lakebasepgx: configure: the pool's TLS configuration presents a client certificate (TLSConfig.Certificates, GetClientCertificate or sslcertmode=require), which the connector's TLS, replacing it, never sends")

// levelOf says what one TLS attempt of pgx asks for: nil is plaintext;
// pgx's verify-full verifies as crypto/tls does, its verify-ca (and require
// with sslrootcert) in VerifyPeerCertificate.
func levelOf(tc *tls.Config) tlsLevel {
	switch {
	case tc == nil:
		return tlsPlain
	case !tc.InsecureSkipVerify:
		return tlsHostName
	case tc.VerifyPeerCertificate != nil || tc.VerifyConnection != nil:
		return tlsChain
	default:
		return tlsEncrypted
	}
}

// connectorLevel says what the connector's sslmode gives; allow and prefer,
// which Connector.Open refuses, count as plaintext.
func connectorLevel(sslmode string) tlsLevel {
	switch sslmode {
	case "require":
		return tlsEncrypted
	case "verify-ca":
		return tlsChain
	case "verify-full":
		return tlsHostName
	default:
		return tlsPlain
	}
}
