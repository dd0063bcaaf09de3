package pki

import (
	"bytes"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

func mustCA(t *testing.T, dir, name string) *CA {
	t.Helper()
	ca, err := LoadOrCreateCA(dir, name, name+"-ca")
	if err != nil {
		t.Fatalf("LoadOrCreateCA(%s): %v", name, err)
	}
	return ca
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return fi.Mode().Perm()
}

func TestLoadOrCreateCA(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares dir before the second LoadOrCreateCA call.
		setup func(t *testing.T, dir string)
		// wantErrFile is the file the error must name; empty means success.
		wantErrFile string
		// wantSame requires the second call to return the first certificate.
		wantSame bool
	}{
		{
			name:     "reload returns the same CA",
			setup:    func(t *testing.T, dir string) {},
			wantSame: true,
		},
		{
			name: "corrupt key",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "ca.key"), []byte("-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n"))
			},
			wantErrFile: "ca.key",
		},
		{
			name: "garbage key",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "ca.key"), []byte("garbage"))
			},
			wantErrFile: "ca.key",
		},
		{
			name: "corrupt certificate",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "ca.crt"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
			},
			wantErrFile: "ca.crt",
		},
		{
			name: "key from another CA",
			setup: func(t *testing.T, dir string) {
				other := mustCA(t, t.TempDir(), "other")
				writeFile(t, filepath.Join(dir, "ca.key"), other.KeyPEM)
			},
			wantErrFile: "ca.key",
		},
		{
			name: "certificate without key",
			setup: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "ca.key")); err != nil {
					t.Fatal(err)
				}
			},
			wantErrFile: "ca.key",
		},
		{
			name: "leaf certificate in place of CA",
			setup: func(t *testing.T, dir string) {
				ca := mustCA(t, t.TempDir(), "other")
				kp, err := ca.LoadOrIssue(t.TempDir(), "leaf", CertSpec{CommonName: "leaf", Server: true})
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "ca.crt"), kp.CertPEM)
				writeFile(t, filepath.Join(dir, "ca.key"), kp.KeyPEM)
			},
			wantErrFile: "ca.crt",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			first, err := LoadOrCreateCA(dir, "ca", "berth-ca")
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if !first.Cert.IsCA || first.Cert.Subject.CommonName != "berth-ca" {
				t.Fatalf("created CA: IsCA=%v CN=%q", first.Cert.IsCA, first.Cert.Subject.CommonName)
			}
			wantKU := x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign
			if first.Cert.KeyUsage != wantKU {
				t.Errorf("key usage = %v, want %v", first.Cert.KeyUsage, wantKU)
			}
			if got := time.Until(first.Cert.NotAfter); got < 9*365*24*time.Hour {
				t.Errorf("CA validity %v, want about 10 years", got)
			}
			if !bytes.Contains(first.KeyPEM, []byte("BEGIN PRIVATE KEY")) {
				t.Errorf("KeyPEM is not PKCS#8:\n%s", first.KeyPEM)
			}
			for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "ca.key"): 0o600, filepath.Join(dir, "ca.crt"): 0o644} {
				if got := fileMode(t, path); got != want {
					t.Errorf("mode of %s = %o, want %o", path, got, want)
				}
			}

			tt.setup(t, dir)
			second, err := LoadOrCreateCA(dir, "ca", "berth-ca")
			if tt.wantErrFile != "" {
				if err == nil {
					t.Fatal("expected an error")
				}
				if !strings.Contains(err.Error(), filepath.Join(dir, tt.wantErrFile)) {
					t.Fatalf("error %q does not name %s", err, tt.wantErrFile)
				}
				return
			}
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			if tt.wantSame {
				if first.Cert.SerialNumber.Cmp(second.Cert.SerialNumber) != 0 || !bytes.Equal(first.Cert.Raw, second.Cert.Raw) {
					t.Error("reloaded CA certificate differs")
				}
				if !bytes.Equal(first.CertPEM, second.CertPEM) || !bytes.Equal(first.KeyPEM, second.KeyPEM) {
					t.Error("reloaded CA PEM differs")
				}
			}
		})
	}
}

func TestLoadOrCreateCAKeyWithoutCert(t *testing.T) {
	dir := t.TempDir()
	first := mustCA(t, dir, "ca")
	if err := os.Remove(filepath.Join(dir, "ca.crt")); err != nil {
		t.Fatal(err)
	}
	second := mustCA(t, dir, "ca")
	if !bytes.Equal(first.KeyPEM, second.KeyPEM) {
		t.Error("key was replaced")
	}
	if !publicKeysEqual(second.Cert.PublicKey, first.Key.Public()) {
		t.Error("new certificate is not for the existing key")
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOrIssueVerifies(t *testing.T) {
	ca := mustCA(t, t.TempDir(), "ca")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	tests := []struct {
		name   string
		spec   CertSpec
		usages []x509.ExtKeyUsage
	}{
		{
			name: "server",
			spec: CertSpec{
				CommonName: "kube-apiserver",
				DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default.svc"},
				IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1"), net.ParseIP("::1")},
				Server:     true,
			},
			usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		{
			name: "client",
			spec: CertSpec{
				CommonName:   "admin",
				Organization: []string{"system:masters"},
				Client:       true,
			},
			usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		{
			name: "server and client",
			spec: CertSpec{
				CommonName: "etcd",
				DNSNames:   []string{"localhost"},
				IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
				Server:     true,
				Client:     true,
			},
			usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "certs")
			kp, err := ca.LoadOrIssue(dir, "leaf", tt.spec)
			if err != nil {
				t.Fatalf("LoadOrIssue: %v", err)
			}
			if !filepath.IsAbs(kp.CertFile) || !filepath.IsAbs(kp.KeyFile) {
				t.Errorf("paths not absolute: %q %q", kp.CertFile, kp.KeyFile)
			}
			if got := fileMode(t, kp.KeyFile); got != 0o600 {
				t.Errorf("key mode %o", got)
			}
			if got := fileMode(t, kp.CertFile); got != 0o644 {
				t.Errorf("cert mode %o", got)
			}
			onDisk, err := os.ReadFile(kp.CertFile)
			if err != nil || !bytes.Equal(onDisk, kp.CertPEM) {
				t.Fatalf("cert file does not hold CertPEM (err %v)", err)
			}
			cert, err := parseCertPEM(kp.CertPEM)
			if err != nil {
				t.Fatal(err)
			}
			key, err := parseKeyPEM(kp.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(key.Public(), cert.PublicKey) {
				t.Fatal("key does not match certificate")
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: tt.usages}); err != nil {
				t.Fatalf("verify with %v: %v", tt.usages, err)
			}
			for _, u := range tt.usages {
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
					t.Errorf("verify with %v: %v", u, err)
				}
			}
			for _, name := range tt.spec.DNSNames {
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: tt.usages}); err != nil {
					t.Errorf("verify DNS %s: %v", name, err)
				}
			}
			for _, ip := range tt.spec.IPs {
				if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
					t.Errorf("IP %v missing from %v", ip, cert.IPAddresses)
				}
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: ip.String(), KeyUsages: tt.usages}); err != nil {
					t.Errorf("verify IP %s: %v", ip, err)
				}
			}
			if !slices.Equal(cert.Subject.Organization, tt.spec.Organization) {
				t.Errorf("organization %v, want %v", cert.Subject.Organization, tt.spec.Organization)
			}
			if cert.Subject.CommonName != tt.spec.CommonName {
				t.Errorf("CN %q", cert.Subject.CommonName)
			}
			if cert.IsCA {
				t.Error("leaf is a CA")
			}
			if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; cert.KeyUsage != want {
				t.Errorf("key usage %v, want %v", cert.KeyUsage, want)
			}
			if bits := cert.SerialNumber.BitLen(); bits > 128 || cert.SerialNumber.Sign() <= 0 {
				t.Errorf("serial has %d bits", bits)
			}
			if v := cert.NotAfter.Sub(cert.NotBefore); v < 364*24*time.Hour || v > 366*24*time.Hour {
				t.Errorf("validity %v, want one year", v)
			}
		})
	}
}

func TestLoadOrIssueReuse(t *testing.T) {
	base := CertSpec{
		CommonName:   "system:node:vk-0",
		Organization: []string{"system:nodes", "berth"},
		DNSNames:     []string{"vk-0", "localhost"},
		IPs:          []net.IP{net.ParseIP("127.0.0.1")},
		Server:       true,
		Client:       true,
	}
	with := func(f func(*CertSpec)) CertSpec {
		s := base
		s.Organization = slices.Clone(base.Organization)
		s.DNSNames = slices.Clone(base.DNSNames)
		s.IPs = slices.Clone(base.IPs)
		f(&s)
		return s
	}

	tests := []struct {
		name string
		// prepare runs between the first and second call.
		prepare     func(t *testing.T, ca *CA, dir string)
		second      CertSpec
		otherCA     bool
		wantReissue bool
	}{
		{name: "same spec", second: base},
		{name: "organization in another order", second: with(func(s *CertSpec) { s.Organization = []string{"berth", "system:nodes"} })},
		{name: "subset of SANs", second: with(func(s *CertSpec) { s.DNSNames = []string{"localhost"}; s.IPs = nil })},
		{name: "IPv4 in 16-byte form", second: with(func(s *CertSpec) { s.IPs = []net.IP{net.IPv4(127, 0, 0, 1).To16()} })},
		{name: "extra IP", second: with(func(s *CertSpec) { s.IPs = append(s.IPs, net.ParseIP("10.96.0.1")) }), wantReissue: true},
		{name: "extra DNS name", second: with(func(s *CertSpec) { s.DNSNames = append(s.DNSNames, "vk-0.berth") }), wantReissue: true},
		{name: "different organization", second: with(func(s *CertSpec) { s.Organization = []string{"system:masters"} }), wantReissue: true},
		{name: "fewer organizations", second: with(func(s *CertSpec) { s.Organization = []string{"system:nodes"} }), wantReissue: true},
		{name: "different common name", second: with(func(s *CertSpec) { s.CommonName = "system:node:vk-1" }), wantReissue: true},
		{name: "fewer usages", second: with(func(s *CertSpec) { s.Client = false }), wantReissue: true},
		{name: "different CA", second: base, otherCA: true, wantReissue: true},
		{
			name:   "corrupt certificate",
			second: base,
			prepare: func(t *testing.T, ca *CA, dir string) {
				writeFile(t, filepath.Join(dir, "node.crt"), []byte("junk"))
			},
			wantReissue: true,
		},
		{
			name:   "missing key",
			second: base,
			prepare: func(t *testing.T, ca *CA, dir string) {
				if err := os.Remove(filepath.Join(dir, "node.key")); err != nil {
					t.Fatal(err)
				}
			},
			wantReissue: true,
		},
		{
			name:   "key of another certificate",
			second: base,
			prepare: func(t *testing.T, ca *CA, dir string) {
				_, keyPEM, err := ca.issue(base, time.Now(), leafValidity)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "node.key"), keyPEM)
			},
			wantReissue: true,
		},
		{
			name:   "expires within 30 days",
			second: base,
			prepare: func(t *testing.T, ca *CA, dir string) {
				certPEM, keyPEM, err := ca.issue(base, time.Now(), 10*24*time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "node.crt"), certPEM)
				writeFile(t, filepath.Join(dir, "node.key"), keyPEM)
			},
			wantReissue: true,
		},
		{
			name:   "expires in 60 days",
			second: base,
			prepare: func(t *testing.T, ca *CA, dir string) {
				certPEM, keyPEM, err := ca.issue(base, time.Now(), 60*24*time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "node.crt"), certPEM)
				writeFile(t, filepath.Join(dir, "node.key"), keyPEM)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := mustCA(t, t.TempDir(), "ca")
			dir := t.TempDir()
			first, err := ca.LoadOrIssue(dir, "node", base)
			if err != nil {
				t.Fatalf("first LoadOrIssue: %v", err)
			}
			if tt.prepare != nil {
				tt.prepare(t, ca, dir)
			}
			before, err := os.ReadFile(first.CertFile)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			signer := ca
			if tt.otherCA {
				signer = mustCA(t, t.TempDir(), "other")
			}
			second, err := signer.LoadOrIssue(dir, "node", tt.second)
			if err != nil {
				t.Fatalf("second LoadOrIssue: %v", err)
			}
			reissued := !bytes.Equal(before, second.CertPEM)
			if reissued != tt.wantReissue {
				t.Fatalf("reissued = %v, want %v", reissued, tt.wantReissue)
			}
			if !tt.wantReissue && !bytes.Equal(first.KeyPEM, second.KeyPEM) && tt.prepare == nil {
				t.Error("key changed without reissue")
			}
			// Whatever happened, the result must now fit the spec and be stable.
			if err := signer.fits(second.CertPEM, second.KeyPEM, tt.second, time.Now()); tt.prepare == nil && err != nil {
				t.Errorf("result does not fit spec: %v", err)
			}
			third, err := signer.LoadOrIssue(dir, "node", tt.second)
			if err != nil {
				t.Fatalf("third LoadOrIssue: %v", err)
			}
			if !bytes.Equal(second.CertPEM, third.CertPEM) || !bytes.Equal(second.KeyPEM, third.KeyPEM) {
				t.Error("third call reissued")
			}
		})
	}
}

func TestLoadOrIssueInvalidSpec(t *testing.T) {
	ca := mustCA(t, t.TempDir(), "ca")
	tests := []struct {
		name string
		spec CertSpec
	}{
		{name: "no common name", spec: CertSpec{Server: true}},
		{name: "no usage", spec: CertSpec{CommonName: "x"}},
		{name: "bad IP", spec: CertSpec{CommonName: "x", Server: true, IPs: []net.IP{{1, 2, 3}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ca.LoadOrIssue(t.TempDir(), "leaf", tt.spec); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}

func TestLoadOrCreateServiceAccountKey(t *testing.T) {
	tests := []struct {
		name string
		// prepare runs between the first and second call.
		prepare     func(t *testing.T, keyFile, pubFile string)
		wantErrFile string // "key" or ""
	}{
		{name: "reload unchanged"},
		{
			name: "missing public key is rewritten",
			prepare: func(t *testing.T, keyFile, pubFile string) {
				if err := os.Remove(pubFile); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "mismatched public key is rewritten",
			prepare: func(t *testing.T, keyFile, pubFile string) {
				_, otherPub, err := LoadOrCreateServiceAccountKey(t.TempDir(), "sa")
				if err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(otherPub)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, pubFile, data)
			},
		},
		{
			name: "corrupt private key",
			prepare: func(t *testing.T, keyFile, pubFile string) {
				writeFile(t, keyFile, []byte("not a key"))
			},
			wantErrFile: "key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sa")
			keyFile, pubFile, err := LoadOrCreateServiceAccountKey(dir, "sa")
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if keyFile != filepath.Join(dir, "sa.key") || pubFile != filepath.Join(dir, "sa.pub") {
				t.Fatalf("paths %q %q", keyFile, pubFile)
			}
			if got := fileMode(t, keyFile); got != 0o600 {
				t.Errorf("key mode %o", got)
			}
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
				t.Errorf("key is not PKCS#8 PEM:\n%s", keyPEM)
			}
			pubPEM, err := os.ReadFile(pubFile)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----")) {
				t.Errorf("public key is not PKIX PEM:\n%s", pubPEM)
			}

			if tt.prepare != nil {
				tt.prepare(t, keyFile, pubFile)
			}
			keyFile2, pubFile2, err := LoadOrCreateServiceAccountKey(dir, "sa")
			if tt.wantErrFile != "" {
				if err == nil || !strings.Contains(err.Error(), keyFile) {
					t.Fatalf("error %v does not name %s", err, keyFile)
				}
				return
			}
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			if keyFile2 != keyFile || pubFile2 != pubFile {
				t.Errorf("paths changed: %q %q", keyFile2, pubFile2)
			}
			keyPEM2, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(keyPEM, keyPEM2) {
				t.Error("private key changed")
			}
			pubPEM2, err := os.ReadFile(pubFile)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pubPEM, pubPEM2) {
				t.Error("public key changed")
			}
			key, err := parseKeyPEM(keyPEM2)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := parsePublicKeyPEM(pubPEM2)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(key.Public(), pub) {
				t.Error("public key does not match private key")
			}
		})
	}
}

func TestWriteKubeconfig(t *testing.T) {
	ca := mustCA(t, t.TempDir(), "ca")
	client, err := ca.LoadOrIssue(t.TempDir(), "admin", CertSpec{
		CommonName: "admin", Organization: []string{"system:masters"}, Client: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		context string
		server  string
		caPEM   []byte
		client  KeyPair
		wantErr bool
	}{
		{name: "valid", context: "berth", server: "https://127.0.0.1:6443", caPEM: ca.CertPEM, client: client},
		{name: "other name", context: "berth-dev", server: "https://localhost:16443", caPEM: ca.CertPEM, client: client},
		{name: "no server", context: "berth", caPEM: ca.CertPEM, client: client, wantErr: true},
		{name: "no context", server: "https://127.0.0.1:6443", caPEM: ca.CertPEM, client: client, wantErr: true},
		{name: "no CA", context: "berth", server: "https://127.0.0.1:6443", client: client, wantErr: true},
		{name: "no client key", context: "berth", server: "https://127.0.0.1:6443", caPEM: ca.CertPEM, client: KeyPair{CertPEM: client.CertPEM}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "kubeconfig")
			err := WriteKubeconfig(path, tt.context, tt.server, tt.caPEM, tt.client)
			if tt.wantErr {
				if err == nil {
					t.Fatal("expected an error")
				}
				if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
					t.Errorf("file written despite error: %v", statErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("WriteKubeconfig: %v", err)
			}
			if got := fileMode(t, path); got != 0o600 {
				t.Errorf("mode %o", got)
			}

			cfg, err := clientcmd.LoadFromFile(path)
			if err != nil {
				t.Fatalf("LoadFromFile: %v", err)
			}
			if cfg.CurrentContext != tt.context {
				t.Errorf("current-context %q", cfg.CurrentContext)
			}
			ctx := cfg.Contexts[tt.context]
			if ctx == nil || ctx.Cluster != tt.context || ctx.AuthInfo != tt.context {
				t.Fatalf("context %+v", ctx)
			}
			if c := cfg.Clusters[tt.context]; c == nil || c.Server != tt.server || !bytes.Equal(c.CertificateAuthorityData, tt.caPEM) {
				t.Errorf("cluster %+v", c)
			}
			if a := cfg.AuthInfos[tt.context]; a == nil || !bytes.Equal(a.ClientCertificateData, tt.client.CertPEM) || !bytes.Equal(a.ClientKeyData, tt.client.KeyPEM) {
				t.Errorf("user %+v", a)
			}

			rc, err := clientcmd.BuildConfigFromFlags("", path)
			if err != nil {
				t.Fatalf("BuildConfigFromFlags: %v", err)
			}
			if rc.Host != tt.server {
				t.Errorf("host %q, want %q", rc.Host, tt.server)
			}
			if !bytes.Equal(rc.CAData, tt.caPEM) {
				t.Error("CA data differs")
			}
			if !bytes.Equal(rc.CertData, tt.client.CertPEM) {
				t.Error("cert data differs")
			}
			if !bytes.Equal(rc.KeyData, tt.client.KeyPEM) {
				t.Error("key data differs")
			}

			// Rewriting replaces the file in place.
			if err := WriteKubeconfig(path, tt.context, tt.server+"/", tt.caPEM, tt.client); err != nil {
				t.Fatalf("rewrite: %v", err)
			}
			if cfg, err := clientcmd.LoadFromFile(path); err != nil || cfg.Clusters[tt.context].Server != tt.server+"/" {
				t.Errorf("rewrite not visible: %v", err)
			}
			entries, err := os.ReadDir(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("leftover files: %v", entries)
			}
		})
	}
}
