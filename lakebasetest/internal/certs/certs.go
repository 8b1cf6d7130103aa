// Package certs holds the kit's TLS files, made by internal/gencerts: a
// test certificate authority and a server certificate it signed for
// localhost, 127.0.0.1 and ::1. They are public test material, not secrets.
package certs

import (
	"crypto/tls"
	_ "embed"
	"fmt"
	"sync"
)

var (
	// CA is the certificate authority, in PEM form.
	//go:embed testdata/ca.pem
	CA []byte
	// Server is the server certificate, in PEM form.
	//go:embed testdata/server.pem
	Server []byte
	// ServerKey is the server certificate's private key, in PEM form.
	//go:embed testdata/server-key.pem
	ServerKey []byte
)

var serverCert = sync.OnceValues(func() (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(Server, ServerKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("lakebasetest: server certificate: %w", err)
	}
	return cert, nil
})

// ServerTLS returns a fresh server-side TLS configuration with the server
// certificate.
func ServerTLS() (*tls.Config, error) {
	cert, err := serverCert()
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
