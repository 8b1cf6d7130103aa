package lakebase_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lib/pq"
)

const tlsRole, tlsPassword = "tls_user", "tls-Secret-2468"

// tlsServer returns the shared server's port, with tlsRole on it.
func tlsServer(t *testing.T) int {
	t.Helper()
	srv := testServer(t)
	if err := srv.CreateRole(context.Background(), tlsRole, tlsPassword); err != nil {
		t.Fatal(err)
	}
	return srv.Port()
}

// pingDSN opens dsn and pings within ten seconds.
func pingDSN(t *testing.T, dsn string) error {
	t.Helper()
	db, err := sql.Open("lakebase", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// forward listens on host (such as 127.0.0.2, which the kit's certificate
// does not name) and relays every connection to the server at port.
func forward(t *testing.T, host string, port int) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
			if err != nil {
				_ = c.Close()
				continue
			}
			wg.Go(func() { _, _ = io.Copy(s, c); _ = s.Close() })
			wg.Go(func() { _, _ = io.Copy(c, s); _ = c.Close() })
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestTLSVerification(t *testing.T) {
	port := tlsServer(t)
	ca := testServer(t).CAFile()
	other := writeOtherCA(t)
	wrongHost := forward(t, "127.0.0.2", port)
	login := fmt.Sprintf("user=%s password=%s dbname=databricks_postgres", tlsRole, tlsPassword)
	tests := []struct {
		name    string
		target  string // host and port
		tls     string
		wantErr string // "" for success
	}{
		{"require, the default", fmt.Sprintf("host=127.0.0.1 port=%d", port), "", ""},
		{"verify-full", fmt.Sprintf("host=localhost port=%d", port), "sslmode=verify-full sslrootcert=" + ca, ""},
		{"verify-full by IP", fmt.Sprintf("host=127.0.0.1 port=%d", port), "sslmode=verify-full sslrootcert=" + ca, ""},
		{"verify-full, wrong host name", fmt.Sprintf("host=127.0.0.2 port=%d", wrongHost), "sslmode=verify-full sslrootcert=" + ca,
			"certificate is valid for 127.0.0.1, ::1, not 127.0.0.2"},
		{"verify-full, another CA", fmt.Sprintf("host=localhost port=%d", port), "sslmode=verify-full sslrootcert=" + other,
			"certificate signed by unknown authority"},
		{"verify-full, system roots", fmt.Sprintf("host=localhost port=%d", port), "sslmode=verify-full sslrootcert=system",
			"certificate signed by unknown authority"},
		{"system roots alone mean verify-full", fmt.Sprintf("host=localhost port=%d", port), "sslrootcert=system",
			"certificate signed by unknown authority"},
		{"verify-ca ignores the host name", fmt.Sprintf("host=127.0.0.2 port=%d", wrongHost), "sslmode=verify-ca sslrootcert=" + ca, ""},
		{"verify-ca, another CA", fmt.Sprintf("host=localhost port=%d", port), "sslmode=verify-ca sslrootcert=" + other,
			"certificate signed by unknown authority"},
		{"require with a root certificate verifies the chain", fmt.Sprintf("host=localhost port=%d", port), "sslmode=require sslrootcert=" + other,
			"certificate signed by unknown authority"},
		{"prefer, left to lib/pq", fmt.Sprintf("host=localhost port=%d", port), "sslmode=prefer", ""},
		{"disable", fmt.Sprintf("host=localhost port=%d", port), "sslmode=disable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pingDSN(t, strings.Join([]string{tt.target, login, tt.tls}, " "))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Ping: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Ping = %v; want an error saying %q", err, tt.wantErr)
			case err != nil && (strings.Contains(err.Error(), tlsPassword) || !strings.HasPrefix(err.Error(), "lakebase: dial ")):
				t.Errorf("error %q should be a dial error without the password", err)
			}
		})
	}
}

// The sessions' TLS is what the server sees: pg_stat_ssl shows it on, with
// TLS 1.3, for every mode the driver runs.
func TestTLSSessionIsEncrypted(t *testing.T) {
	port := tlsServer(t)
	for _, mode := range []string{"", "sslmode=require", "sslmode=verify-ca sslrootcert=" + testServer(t).CAFile(), "sslmode=prefer"} {
		dsn := fmt.Sprintf("host=localhost port=%d user=%s password=%s %s", port, tlsRole, tlsPassword, mode)
		db, err := sql.Open("lakebase", dsn)
		if err != nil {
			t.Fatal(err)
		}
		var ssl bool
		var version string
		err = db.QueryRow("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &version)
		_ = db.Close()
		if err != nil || !ssl || version != "TLSv1.3" {
			t.Errorf("%q: ssl %v, version %q, err %v; want TLS 1.3", mode, ssl, version, err)
		}
	}
}

// With no sslmode the driver insists on TLS: against a server that offers
// none it fails, and never sends the startup message, let alone the
// password, in clear text.
func TestTLSRequiredByDefault(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	clear := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req := make([]byte, 8)
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		_, _ = c.Write([]byte{'N'}) // no TLS here
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		rest, _ := io.ReadAll(c)
		clear <- rest
	}()
	port := l.Addr().(*net.TCPAddr).Port
	err = pingDSN(t, fmt.Sprintf("host=127.0.0.1 port=%d user=u password=%s", port, tlsPassword))
	if !errors.Is(err, pq.ErrSSLNotSupported) {
		t.Errorf("Ping against a plain-text server = %v; want pq.ErrSSLNotSupported", err)
	}
	if rest := <-clear; len(rest) > 0 {
		t.Errorf("the driver sent %d bytes in clear text after the server refused TLS", len(rest))
	}
}

// The server name goes out in SNI, which Lakebase's front door routes by,
// unless sslsni=0.
func TestTLSSendsServerName(t *testing.T) {
	cert := selfSigned(t)
	for _, tt := range []struct{ sni, want string }{{"", "localhost"}, {"sslsni=0", ""}} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			if _, err := io.ReadFull(c, make([]byte, 8)); err != nil {
				return
			}
			_, _ = c.Write([]byte{'S'})
			cfg := &tls.Config{Certificates: []tls.Certificate{cert}, GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				got <- h.ServerName
				return nil, nil
			}}
			_ = tls.Server(c, cfg).Handshake()
		}()
		_ = pingDSN(t, fmt.Sprintf("host=localhost port=%d user=u password=p %s", l.Addr().(*net.TCPAddr).Port, tt.sni))
		_ = l.Close()
		select {
		case name := <-got:
			if name != tt.want {
				t.Errorf("%q: server name %q, want %q", tt.sni, name, tt.want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%q: no TLS handshake", tt.sni)
		}
	}
}

// A Config that names sslrootcert=system and no sslmode verifies fully.
func TestTLSSystemRootsDefaultToVerifyFull(t *testing.T) {
	cfg, err := lakebase.ParseDSN("host=h user=u password=p sslrootcert=system")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lakebase.NewConnector(cfg); err != nil {
		t.Errorf("NewConnector with sslrootcert=system: %v", err)
	}
	cfg.SSLMode = "require"
	if _, err := lakebase.NewConnector(cfg); err == nil || !strings.Contains(err.Error(), "verify-full") {
		t.Errorf("NewConnector with sslrootcert=system sslmode=require = %v; want an error asking for verify-full", err)
	}
}

// A root certificate file is read once, by NewConnector, which names
// sslrootcert when the file cannot be read or holds no certificate.
func TestTLSRootCertificateFileErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, root, want string }{
		{"missing file", filepath.Join(dir, "missing.pem"), "sslrootcert: open"},
		{"no certificate in the file", garbage, "sslrootcert: no PEM certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := lakebase.ParseDSN("host=h user=u password=p sslmode=verify-full sslrootcert=" + tt.root)
			if err != nil {
				t.Fatal(err)
			}
			_, err = lakebase.NewConnector(cfg)
			if !errors.Is(err, lakebase.ErrInvalidDSN) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewConnector = %v; want ErrInvalidDSN saying %q", err, tt.want)
			}
		})
	}
}

// writeOtherCA writes a CA that signed nothing the kit uses.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	cert := selfSigned(t)
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// selfSigned makes a self-signed certificate for localhost that can sign.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lakebase test CA"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
