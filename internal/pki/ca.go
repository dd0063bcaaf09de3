package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"path/filepath"
	"time"
)

const (
	// caValidityYears is the lifetime of a newly created CA.
	caValidityYears = 10
	// backdate is subtracted from NotBefore to tolerate small clock skew
	// between the processes that verify the certificates.
	backdate = 5 * time.Minute
)

// CA is a certificate authority kept as <dir>/<name>.crt and <dir>/<name>.key
// (PEM).
type CA struct {
	// Cert is the parsed CA certificate.
	Cert *x509.Certificate
	// Key is the CA private key.
	Key crypto.Signer
	// CertPEM is the PEM-encoded CA certificate.
	CertPEM []byte
	// KeyPEM is the CA private key as a PKCS#8 "PRIVATE KEY" PEM block.
	KeyPEM []byte
}

// LoadOrCreateCA loads <dir>/<name>.crt and <dir>/<name>.key, or creates a
// new self-signed CA (ECDSA P-256, 10 years, IsCA,
// KeyUsageCertSign|DigitalSignature|CRLSign) with the given common name and
// writes them (dir created 0700, key files 0600, certs 0644).
//
// An existing CA is reused as is, whatever its common name. A present but
// unreadable, invalid, expired or mismatched pair is an error naming the file:
// it is never silently overwritten, because that would invalidate every
// certificate it issued. A certificate without its key is an error too. A key
// without its certificate (left by a crash between the two writes, since the
// key is written first) gets a new self-signed certificate for that key.
func LoadOrCreateCA(dir, name, commonName string) (*CA, error) {
	if name == "" {
		return nil, fmt.Errorf("load CA in %s: empty name", dir)
	}
	certPath := filepath.Join(dir, name+".crt")
	keyPath := filepath.Join(dir, name+".key")

	certPEM, certExists, err := readOptional(certPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	keyPEM, keyExists, err := readOptional(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}

	switch {
	case certExists && keyExists:
		return loadCA(certPath, keyPath, certPEM, keyPEM)
	case certExists:
		return nil, fmt.Errorf("load CA: %s exists but its private key %s is missing", certPath, keyPath)
	}

	if commonName == "" {
		return nil, fmt.Errorf("create CA %s: empty common name", certPath)
	}
	if err := ensureDir(dir); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}

	var key crypto.Signer
	if keyExists {
		key, err = parseKeyPEM(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("load CA key %s: %w", keyPath, err)
		}
	} else {
		ecKey, err := newKey()
		if err != nil {
			return nil, fmt.Errorf("create CA %s: %w", certPath, err)
		}
		key = ecKey
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("create CA %s: %w", keyPath, err)
	}
	if !keyExists {
		// The key goes first: a crash before the certificate is written
		// leaves a key that the next run completes with a certificate.
		if err := writeFileAtomic(keyPath, keyPEM, keyMode); err != nil {
			return nil, fmt.Errorf("create CA: %w", err)
		}
	}

	cert, err := selfSign(key, commonName, time.Now())
	if err != nil {
		return nil, fmt.Errorf("create CA %s: %w", certPath, err)
	}
	certPEM = encodeCert(cert.Raw)
	if err := writeFileAtomic(certPath, certPEM, certMode); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// loadCA parses and validates an existing CA pair.
func loadCA(certPath, keyPath string, certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA certificate %s: %w", certPath, err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("load CA certificate %s: not a CA certificate (IsCA and KeyUsageCertSign required)", certPath)
	}
	if now := time.Now(); now.After(cert.NotAfter) {
		return nil, fmt.Errorf("load CA certificate %s: expired on %s", certPath, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA key %s: %w", keyPath, err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("load CA key %s: does not match certificate %s", keyPath, certPath)
	}
	normalized, err := encodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("load CA key %s: %w", keyPath, err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: normalized}, nil
}

// selfSign creates a self-signed CA certificate for key.
func selfSign(key crypto.Signer, commonName string, now time.Time) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	return cert, nil
}
