package pki

import (
	"cmp"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"time"
)

const (
	// leafValidity is the lifetime of an issued leaf certificate.
	leafValidity = 365 * 24 * time.Hour
	// renewBefore is how close to expiry a leaf certificate is replaced.
	renewBefore = 30 * 24 * time.Hour
)

// CertSpec describes a leaf certificate.
type CertSpec struct {
	// CommonName is the subject CN; Kubernetes uses it as the user name.
	CommonName string
	// Organization is the subject O, which Kubernetes uses as the groups,
	// e.g. "system:masters" or "system:nodes". Order does not matter.
	Organization []string
	// DNSNames are the DNS subject alternative names.
	DNSNames []string
	// IPs are the IP subject alternative names.
	IPs []net.IP
	// Server requests ExtKeyUsageServerAuth.
	Server bool
	// Client requests ExtKeyUsageClientAuth.
	Client bool
}

// KeyPair is a PEM certificate and key on disk.
type KeyPair struct {
	// CertFile is the absolute path of the PEM certificate.
	CertFile string
	// KeyFile is the absolute path of the PKCS#8 PEM private key.
	KeyFile string
	// CertPEM is the content of CertFile.
	CertPEM []byte
	// KeyPEM is the content of KeyFile.
	KeyPEM []byte
}

// LoadOrIssue returns <dir>/<name>.crt and <dir>/<name>.key if present,
// signed by this CA, not expiring within 30 days, and covering exactly the
// spec (same CN, organization set, usages, and a superset of the requested
// DNS names and IPs); otherwise it issues a new one (ECDSA P-256, 1 year,
// random 128-bit serial, KeyUsageDigitalSignature|KeyEncipherment) and writes
// it (dir created 0700, key 0600, cert 0644).
//
// The spec needs a common name and at least one of Server and Client. The
// returned file paths are absolute so they can be passed as component flags.
func (ca *CA) LoadOrIssue(dir, name string, spec CertSpec) (KeyPair, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return KeyPair{}, fmt.Errorf("issue %s: CA is not loaded", name)
	}
	if name == "" {
		return KeyPair{}, fmt.Errorf("issue certificate in %s: empty name", dir)
	}
	if err := spec.validate(); err != nil {
		return KeyPair{}, fmt.Errorf("issue %s: %w", name, err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue %s: resolve %s: %w", name, dir, err)
	}
	kp := KeyPair{
		CertFile: filepath.Join(absDir, name+".crt"),
		KeyFile:  filepath.Join(absDir, name+".key"),
	}

	certPEM, certExists, err := readOptional(kp.CertFile)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue %s: %w", name, err)
	}
	keyPEM, keyExists, err := readOptional(kp.KeyFile)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue %s: %w", name, err)
	}
	if certExists && keyExists && ca.fits(certPEM, keyPEM, spec, time.Now()) == nil {
		kp.CertPEM, kp.KeyPEM = certPEM, keyPEM
		return kp, nil
	}

	if err := ensureDir(absDir); err != nil {
		return KeyPair{}, fmt.Errorf("issue %s: %w", name, err)
	}
	certPEM, keyPEM, err = ca.issue(spec, time.Now(), leafValidity)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue %s: %w", kp.CertFile, err)
	}
	// The key goes first: after a crash in between, the old certificate no
	// longer matches the new key and the next run issues again.
	if err := writeFileAtomic(kp.KeyFile, keyPEM, keyMode); err != nil {
		return KeyPair{}, fmt.Errorf("issue %s: %w", name, err)
	}
	if err := writeFileAtomic(kp.CertFile, certPEM, certMode); err != nil {
		return KeyPair{}, fmt.Errorf("issue %s: %w", name, err)
	}
	kp.CertPEM, kp.KeyPEM = certPEM, keyPEM
	return kp, nil
}

// validate checks that spec describes a usable certificate.
func (s CertSpec) validate() error {
	if s.CommonName == "" {
		return errors.New("certificate spec has an empty common name")
	}
	if !s.Server && !s.Client {
		return fmt.Errorf("certificate spec %q requests neither server nor client usage", s.CommonName)
	}
	for _, ip := range s.IPs {
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			return fmt.Errorf("certificate spec %q has an invalid IP %v", s.CommonName, ip)
		}
	}
	return nil
}

// extKeyUsages returns the extended key usages the spec requests.
func (s CertSpec) extKeyUsages() []x509.ExtKeyUsage {
	var usages []x509.ExtKeyUsage
	if s.Server {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if s.Client {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	return usages
}

// issue creates a new key and a certificate for it signed by the CA, valid
// from now (minus backdate) for validity.
func (ca *CA) issue(spec CertSpec, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   spec.CommonName,
			Organization: slices.Clone(spec.Organization),
		},
		DNSNames:              slices.Clone(spec.DNSNames),
		IPAddresses:           slices.Clone(spec.IPs),
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           spec.extKeyUsages(),
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

// fits returns nil if the PEM pair can be reused for spec at time now, or
// an error describing why not.
func (ca *CA) fits(certPEM, keyPEM []byte, spec CertSpec, now time.Time) error {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return err
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return err
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return errors.New("key does not match certificate")
	}
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		return fmt.Errorf("not signed by CA: %w", err)
	}
	if now.Before(cert.NotBefore) {
		return errors.New("not valid yet")
	}
	if cert.NotAfter.Sub(now) < renewBefore {
		return errors.New("expires within renewal window")
	}
	if cert.IsCA {
		return errors.New("is a CA certificate")
	}
	if cert.Subject.CommonName != spec.CommonName {
		return errors.New("common name differs")
	}
	if !sameSet(cert.Subject.Organization, spec.Organization) {
		return errors.New("organization differs")
	}
	if !sameSet(cert.ExtKeyUsage, spec.extKeyUsages()) || len(cert.UnknownExtKeyUsage) != 0 {
		return errors.New("extended key usages differ")
	}
	want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if cert.KeyUsage&want != want {
		return errors.New("key usage differs")
	}
	for _, name := range spec.DNSNames {
		if !slices.Contains(cert.DNSNames, name) {
			return fmt.Errorf("DNS name %q missing", name)
		}
	}
	for _, ip := range spec.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return fmt.Errorf("IP %v missing", ip)
		}
	}
	return nil
}

// sameSet reports whether a and b hold the same elements, ignoring order
// and duplicates.
func sameSet[T cmp.Ordered](a, b []T) bool {
	sa, sb := slices.Clone(a), slices.Clone(b)
	slices.Sort(sa)
	slices.Sort(sb)
	return slices.Equal(slices.Compact(sa), slices.Compact(sb))
}
