package provider

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-dev/berth/provider/podman"
)

// The first line of the hosts file the kubelet writes for a pod: on the pod network, and for a hostNetwork pod
// (the node's hosts file follows).
const (
	managedHostsHeader                = "# Kubernetes-managed hosts file.\n"
	managedHostsHeaderWithHostNetwork = "# Kubernetes-managed hosts file (host network).\n"
)

// etcHostsPath is where containers find their hosts file.
const etcHostsPath = "/etc/hosts"

// DefaultHostsFile is the node's hosts file, the base of hostNetwork pods' /etc/hosts, as the kubelet reads it.
const DefaultHostsFile = "/etc/hosts"

// hostnameMaxLen is the kernel's limit the kubelet applies to pod hostnames.
const hostnameMaxLen = 63

// fqdnMaxLen is the longest FQDN the kubelet sets as a pod's hostname (setHostnameAsFQDN): the kernel's 64 bytes of
// nodename.
const fqdnMaxLen = 64

// truncateHostname shortens a hostname to 63 characters without a trailing '-' or '.', as the kubelet's
// truncatePodHostnameIfNeeded does.
func truncateHostname(podName, h string) (string, error) {
	if len(h) <= hostnameMaxLen {
		return h, nil
	}
	truncated := strings.TrimRight(h[:hostnameMaxLen], "-.")
	if truncated == "" {
		return "", fmt.Errorf("hostname for pod %q was invalid: %q", podName, h)
	}
	return truncated, nil
}

// podHostnameAndDomain is a pod's hostname and, with a subdomain, its domain
// (<subdomain>.<namespace>.svc.<clusterDomain>), as the kubelet's GeneratePodHostNameAndDomain makes them:
// hostnameOverride if set (and no domain), else spec.hostname or the pod's name, cut to 63 characters.
func podHostnameAndDomain(pod *corev1.Pod, clusterDomain string) (hostname, domain string, err error) {
	if o := pod.Spec.HostnameOverride; o != nil {
		if msgs := utilvalidation.IsDNS1123Subdomain(*o); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod HostnameOverride %q is not a valid DNS subdomain: %s", *o, strings.Join(msgs, ";"))
		}
		h, err := truncateHostname(pod.Name, *o)
		return h, "", err
	}
	hostname = pod.Name
	if pod.Spec.Hostname != "" {
		if msgs := utilvalidation.IsDNS1123Label(pod.Spec.Hostname); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod Hostname %q is not a valid DNS label: %s", pod.Spec.Hostname, strings.Join(msgs, ";"))
		}
		hostname = pod.Spec.Hostname
	}
	if hostname, err = truncateHostname(pod.Name, hostname); err != nil {
		return "", "", err
	}
	if pod.Spec.Subdomain != "" {
		if msgs := utilvalidation.IsDNS1123Label(pod.Spec.Subdomain); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod Subdomain %q is not a valid DNS label: %s", pod.Spec.Subdomain, strings.Join(msgs, ";"))
		}
		domain = fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, clusterDomain)
	}
	return hostname, domain, nil
}

// kernelHostname is the hostname a pod's sandbox gets, as the kubelet's GetNodenameForKernel makes it: the FQDN
// when the pod has a domain and setHostnameAsFQDN, else the short hostname. An FQDN over 64 bytes is an error (the
// kubelet's, word for word, which its FailedCreatePodSandBox event carries).
func kernelHostname(hostname, domain string, setHostnameAsFQDN *bool) (string, error) {
	if domain == "" || setHostnameAsFQDN == nil || !*setHostnameAsFQDN {
		return hostname, nil
	}
	fqdn := hostname + "." + domain
	if len(fqdn) > fqdnMaxLen {
		return "", fmt.Errorf("failed to construct FQDN from pod hostname and cluster domain, FQDN %s is too long (%d characters is the max, %d characters requested)", fqdn, fqdnMaxLen, len(fqdn))
	}
	return fqdn, nil
}

// sandboxHostname is the hostname of a pod's sandbox ("" for a hostNetwork pod, which has the node's).
func sandboxHostname(pod *corev1.Pod, clusterDomain string) (string, error) {
	if pod.Spec.HostNetwork {
		return "", nil
	}
	hostname, domain, err := podHostnameAndDomain(pod, clusterDomain)
	if err != nil {
		return "", err
	}
	return kernelHostname(hostname, domain, pod.Spec.SetHostnameAsFQDN)
}

// managedHostsFileContent is the hosts file of a pod on the pod network, as the kubelet writes it: the localhost
// and IPv6 lines, the pod's IPs with its hostname (FQDN first when it has a domain), then the hostAliases.
func managedHostsFileContent(podIPs []string, hostname, domain string, aliases []corev1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString(managedHostsHeader)
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	for _, ip := range podIPs {
		if domain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
		}
	}
	b.Write(hostsEntriesFromHostAliases(aliases))
	return b.Bytes()
}

// nodeHostsFileContent is the hosts file of a hostNetwork pod, as the kubelet writes it: the node's hosts file
// under its own header, then the hostAliases.
func nodeHostsFileContent(nodeHosts []byte, aliases []corev1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString(managedHostsHeaderWithHostNetwork)
	b.Write(nodeHosts)
	b.Write(hostsEntriesFromHostAliases(aliases))
	return b.Bytes()
}

// hostsEntriesFromHostAliases is the hostAliases section of a pod's hosts file: one line per alias entry, its
// hostnames separated by tabs.
func hostsEntriesFromHostAliases(aliases []corev1.HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}

// mountsEtcHosts tells whether a container mounts a volume of its own at /etc/hosts, which the kubelet then leaves
// alone.
func mountsEtcHosts(c *corev1.Container) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == etcHostsPath {
			return true
		}
	}
	return false
}

// hostsFile is the node file of a pod's hosts file (pods/<uid>/etc-hosts, as the kubelet keeps it), "" without
// RootDir.
func (p *Provider) hostsFile(uid types.UID) string {
	dir := p.podFilesDir(uid)
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "etc-hosts")
}

// managesHostsFile tells whether Berth writes the pod's hosts file, as the kubelet does; without RootDir it cannot
// (no folder the Podman host shares), and Podman's own hosts file, with the hostAliases added, stands in.
func (p *Provider) managesHostsFile() bool {
	return p.cfg.RootDir != ""
}

// mountHostsFile writes a pod's hosts file for a container about to be created and returns its bind mount at
// /etc/hosts, as the kubelet's makeMounts does: not when the container mounts something there itself, nor before
// the pod has an IP on the pod network. podIP is the pod's IP (the node's for a hostNetwork pod).
func (p *Provider) mountHostsFile(pod *corev1.Pod, c *corev1.Container, podIP string) ([]podman.BindMount, error) {
	file := p.hostsFile(pod.UID)
	if file == "" || mountsEtcHosts(c) || (podIP == "" && !pod.Spec.HostNetwork) {
		return nil, nil
	}
	var content []byte
	if pod.Spec.HostNetwork {
		node, err := os.ReadFile(p.cfg.HostsFile)
		if err != nil {
			return nil, fmt.Errorf("read the node's hosts file: %w", err)
		}
		content = nodeHostsFileContent(node, pod.Spec.HostAliases)
	} else {
		hostname, domain, err := podHostnameAndDomain(pod, p.cfg.ClusterDomain)
		if err != nil {
			return nil, err
		}
		content = managedHostsFileContent([]string{podIP}, hostname, domain, pod.Spec.HostAliases)
	}
	if err := writeHostsFile(file, content); err != nil {
		return nil, fmt.Errorf("write the pod's hosts file: %w", err)
	}
	return []podman.BindMount{{Source: file, Dest: etcHostsPath}}, nil
}

// writeHostsFile writes a hosts file in place (0644), so that running containers, whose bind mount holds the
// file, see the change; an unchanged file is left as it is, so that it never reads empty meanwhile.
func writeHostsFile(file string, content []byte) error {
	if cur, err := os.ReadFile(file); err == nil && bytes.Equal(cur, content) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(file, content, 0o644); err != nil {
		return err
	}
	return os.Chmod(file, 0o644)
}
