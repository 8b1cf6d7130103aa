package pqsession

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"github.com/lib/pq"
)

// TLS is TLS that the driver runs itself, so that the end of a session is
// seen above TLS (see Conn): lib/pq turns a TLS close_notify in the middle
// of a statement into driver.ErrBadConn, and database/sql then runs the
// statement again.
//
// The driver runs TLS for sslmode require, verify-ca and verify-full, with
// lib/pq's meaning of every setting it reads (sslrootcert, "system"
// included, sslsni, the protocol versions, ~/.postgresql/root.crt). It
// leaves TLS to lib/pq for the other modes and whenever a client
// certificate, inline certificates, direct negotiation or a custom
// (RegisterTLSConfig) mode is involved.
type TLS struct {
	config *tls.Config // without ServerName, which is per host
	sni    bool        // send the host name (sslsni)
	full   bool        // verify-full: check the host name against the certificate
	// caOnly: check the chain but not the host name (verify-ca, or require
	// with a root certificate, as libpq does).
	caOnly bool
}

// NewTLS returns the TLS to run for pc, or nil when lib/pq runs it. It is
// meant to run once per connector: the root certificates are read then, and
// a file that cannot be read or holds no certificate is an error naming
// sslrootcert.
func NewTLS(pc pq.Config) (*TLS, error) {
	switch pc.SSLMode {
	case pq.SSLModeRequire, pq.SSLModeVerifyCA, pq.SSLModeVerifyFull:
	default:
		return nil, nil
	}
	home := postgresHome()
	if pc.SSLInline || pc.SSLCert != "" || pc.SSLKey != "" || pc.SSLNegotiation == pq.SSLNegotiationDirect ||
		(home != "" && fileExists(filepath.Join(home, "postgresql.crt"))) {
		return nil, nil
	}
	root := pc.SSLRootCert
	if root == "" && home != "" && fileExists(filepath.Join(home, "root.crt")) {
		root = filepath.Join(home, "root.crt")
	}
	t := &TLS{
		config: &tls.Config{
			MinVersion:    tlsVersion(pc.SSLMinProtocolVersion),
			MaxVersion:    tlsVersion(pc.SSLMaxProtocolVersion),
			Renegotiation: tls.RenegotiateFreelyAsClient,
		},
		sni:  pc.SSLSNI,
		full: pc.SSLMode == pq.SSLModeVerifyFull,
	}
	switch {
	case pc.SSLMode == pq.SSLModeVerifyCA:
		t.caOnly = true
	case pc.SSLMode == pq.SSLModeRequire && root != "":
		if !fileExists(root) && root != "system" {
			root = "" // as lib/pq: a missing file means no verification
		}
		t.caOnly = root != ""
	}
	if root != "" && root != "system" {
		pem, err := os.ReadFile(root)
		if err != nil {
			return nil, fmt.Errorf("sslrootcert: %w", err)
		}
		t.config.RootCAs = x509.NewCertPool()
		if !t.config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sslrootcert: no PEM certificate in %s", root)
		}
	}
	// TLS's own check is verify-full's; the others check less, themselves.
	t.config.InsecureSkipVerify = !t.full
	return t, nil
}

// sslRequest is the message that asks a PostgreSQL server for TLS.
var sslRequest = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 80877103)

// start asks the server at conn for TLS and runs the handshake for host,
// under ctx.
func (t *TLS) start(ctx context.Context, conn net.Conn, host string) (*tls.Conn, error) {
	if _, err := conn.Write(sslRequest); err != nil {
		return nil, err
	}
	var answer [1]byte
	if _, err := io.ReadFull(conn, answer[:]); err != nil {
		return nil, err
	}
	if answer[0] != 'S' {
		return nil, pq.ErrSSLNotSupported
	}
	cfg := t.config.Clone()
	if t.full || t.sni {
		cfg.ServerName = host // crypto/tls sends no SNI for an IP address
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	if t.caOnly {
		if err := verifyChain(tc.ConnectionState().PeerCertificates, cfg.RootCAs); err != nil {
			return nil, err
		}
	}
	return tc, nil
}

// verifyChain checks the server's certificate chain against roots (nil:
// the system's), without its host name.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	opts := x509.VerifyOptions{Intermediates: x509.NewCertPool(), Roots: roots}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := certs[0].Verify(opts)
	return err
}

// tlsVersion maps lib/pq's ssl_min/max_protocol_version to crypto/tls's.
func tlsVersion(v pq.SSLProtocolVersion) uint16 {
	switch v {
	case pq.SSLProtocolVersionTLS10:
		return tls.VersionTLS10
	case pq.SSLProtocolVersionTLS11:
		return tls.VersionTLS11
	case pq.SSLProtocolVersionTLS12:
		return tls.VersionTLS12
	case pq.SSLProtocolVersionTLS13:
		return tls.VersionTLS13
	}
	return 0
}

// postgresHome is where libpq looks for root.crt and a client certificate:
// ~/.postgresql, or %APPDATA%\postgresql on Windows.
func postgresHome() string {
	if runtime.GOOS == "windows" {
		if ad := os.Getenv("APPDATA"); ad != "" {
			return filepath.Join(ad, "postgresql")
		}
		return ""
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".postgresql")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
