package lakebasetest

import (
	"crypto/tls"
	_ "embed"
	"fmt"
	"sync"
)

// The kit's TLS files, made by internal/gencerts: a test certificate
// authority and a server certificate it signed for localhost, 127.0.0.1 and
// ::1. They are public test material, not secrets.
var (
	//go:embed testdata/ca.pem
	caPEM []byte
	//go:embed testdata/server.pem
	serverCertPEM []byte
	//go:embed testdata/server-key.pem
	serverKeyPEM []byte
)

var serverCert = sync.OnceValues(func() (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(serverCertPEM, serverKeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("lakebasetest: server certificate: %w", err)
	}
	return cert, nil
})

// serverTLSConfig returns a fresh server-side TLS configuration with the
// kit's server certificate.
func serverTLSConfig() (*tls.Config, error) {
	cert, err := serverCert()
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
