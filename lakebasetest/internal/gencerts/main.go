// Command gencerts writes the test kit's TLS files: a certificate authority
// and a server certificate it signs, valid for localhost, 127.0.0.1 and ::1
// for about a hundred years. The files are committed under
// lakebasetest/internal/certs/testdata and embedded in the package; run this only to replace
// them:
//
//	go run ./lakebasetest/internal/gencerts -dir lakebasetest/internal/certs/testdata
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

const validity = 100 * 365 * 24 * time.Hour

func main() {
	dir := flag.String("dir", "lakebasetest/internal/certs/testdata", "directory to write ca.pem, server.pem and server-key.pem into")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gencerts:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	notBefore := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)

	caTemplate := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"lakebasetest"}, CommonName: "lakebasetest CA"},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	ca, caKey, err := issue(caTemplate, nil, nil)
	if err != nil {
		return err
	}

	serverTemplate := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"lakebasetest"}, CommonName: "localhost"},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	server, serverKey, err := issue(serverTemplate, ca, caKey)
	if err != nil {
		return err
	}
	serverKeyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		return fmt.Errorf("server key: %w", err)
	}

	files := []struct {
		name, kind string
		der        []byte
	}{
		{"ca.pem", "CERTIFICATE", ca.Raw},
		{"server.pem", "CERTIFICATE", server.Raw},
		{"server-key.pem", "PRIVATE KEY", serverKeyDER},
	}
	for _, f := range files {
		data := pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(dir, f.name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// serial returns a random 127-bit serial number; crypto/rand does not fail.
func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// issue makes a key and a certificate for it from template, signed with
// parentKey as parent, or self-signed when parent is nil. The certificate
// is parsed back from its DER, which its Raw holds.
func issue(template, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	name := template.Subject.CommonName
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("%s key: %w", name, err)
	}
	if parent == nil {
		parent, parentKey = template, key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%s certificate: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("%s certificate: %w", name, err)
	}
	return cert, key, nil
}
