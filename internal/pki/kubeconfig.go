package pki

import (
	"errors"
	"fmt"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes a kubeconfig file (mode 0600) with one cluster, user
// and context, all named contextName, embedding the CA and the client
// certificate and key data, with current-context set to contextName. The
// parent folder is created (0700) if needed and the file is replaced
// atomically.
func WriteKubeconfig(path, contextName, server string, caPEM []byte, client KeyPair) error {
	if err := validateKubeconfig(contextName, server, caPEM, client); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[contextName] = &clientcmdapi.AuthInfo{
		ClientCertificateData: client.CertPEM,
		ClientKeyData:         client.KeyPEM,
	}
	cfg.Contexts[contextName] = &clientcmdapi.Context{
		Cluster:  contextName,
		AuthInfo: contextName,
	}
	cfg.CurrentContext = contextName

	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: encode: %w", path, err)
	}
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := writeFileAtomic(path, data, keyMode); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// validateKubeconfig checks the inputs of WriteKubeconfig.
func validateKubeconfig(contextName, server string, caPEM []byte, client KeyPair) error {
	switch {
	case contextName == "":
		return errors.New("empty context name")
	case server == "":
		return errors.New("empty server URL")
	case len(caPEM) == 0:
		return errors.New("empty CA certificate data")
	case len(client.CertPEM) == 0:
		return errors.New("empty client certificate data")
	case len(client.KeyPEM) == 0:
		return errors.New("empty client key data")
	}
	return nil
}
