package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
)

// LoadOrCreateServiceAccountKey loads or creates <dir>/<name>.key (PKCS#8
// ECDSA P-256) and <dir>/<name>.pub (PKIX "PUBLIC KEY"), as kube-apiserver
// --service-account-signing-key-file / --service-account-key-file and
// kube-controller-manager --service-account-private-key-file expect. It
// returns the two absolute paths.
//
// An existing but unreadable private key is an error naming the file (it is
// not replaced, since that would invalidate every issued token). A missing,
// unreadable or mismatched public key file is rewritten from the private key.
func LoadOrCreateServiceAccountKey(dir, name string) (keyFile, pubFile string, err error) {
	if name == "" {
		return "", "", fmt.Errorf("load service account key in %s: empty name", dir)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", "", fmt.Errorf("load service account key %s: resolve %s: %w", name, dir, err)
	}
	keyFile = filepath.Join(absDir, name+".key")
	pubFile = filepath.Join(absDir, name+".pub")

	keyPEM, keyExists, err := readOptional(keyFile)
	if err != nil {
		return "", "", fmt.Errorf("load service account key: %w", err)
	}
	var key crypto.Signer
	if keyExists {
		key, err = parseKeyPEM(keyPEM)
		if err != nil {
			return "", "", fmt.Errorf("load service account key %s: %w", keyFile, err)
		}
		pubPEM, pubExists, err := readOptional(pubFile)
		if err != nil {
			return "", "", fmt.Errorf("load service account key: %w", err)
		}
		if pubExists {
			if pub, err := parsePublicKeyPEM(pubPEM); err == nil && publicKeysEqual(key.Public(), pub) {
				return keyFile, pubFile, nil
			}
		}
	} else {
		if err := ensureDir(absDir); err != nil {
			return "", "", fmt.Errorf("create service account key: %w", err)
		}
		ecKey, err := newKey()
		if err != nil {
			return "", "", fmt.Errorf("create service account key %s: %w", keyFile, err)
		}
		key = ecKey
		keyPEM, err = encodeKey(key)
		if err != nil {
			return "", "", fmt.Errorf("create service account key %s: %w", keyFile, err)
		}
		if err := writeFileAtomic(keyFile, keyPEM, keyMode); err != nil {
			return "", "", fmt.Errorf("create service account key: %w", err)
		}
	}

	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", "", fmt.Errorf("write service account public key %s: marshal: %w", pubFile, err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: pemTypePublicKey, Bytes: pubDER})
	if err := writeFileAtomic(pubFile, pubPEM, certMode); err != nil {
		return "", "", fmt.Errorf("write service account public key: %w", err)
	}
	return keyFile, pubFile, nil
}

// parsePublicKeyPEM parses the first PKIX "PUBLIC KEY" block in data.
func parsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PUBLIC KEY PEM block found")
		}
		if block.Type != pemTypePublicKey {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		return pub, nil
	}
}
