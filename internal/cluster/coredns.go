package cluster

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/berth-dev/berth/manifests"
	"github.com/berth-dev/berth/provider/podman"
)

// CoreDNSVersion is the CoreDNS release that hack/coredns builds (the version its go.mod requires).
const CoreDNSVersion = "v1.15.0"

// CoreDNSImage is the cluster DNS image of manifests/coredns.yaml: the coredns binary alone, imported into the
// nodes' Podman with no registry.
const CoreDNSImage = "localhost/berth/coredns:" + CoreDNSVersion

// CoreDNSBinary is coredns's name in the bin folder (make build puts it there).
const CoreDNSBinary = "coredns"

// CoreDNSRootfs builds the root filesystem tarball of CoreDNSImage from the coredns binary at binary, after
// checking that it is CoreDNSVersion: /coredns, /etc/passwd and /etc/group with root and nobody, and /etc/coredns
// where the Corefile is mounted. The image has no entrypoint (podman import sets none): its containers name
// /coredns as their command.
func CoreDNSRootfs(binary string) ([]byte, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("read %s (make build builds it): %w", binary, err)
	}
	out, err := exec.Command(binary, "-version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s -version: %w", binary, err)
	}
	// coremain prints "CoreDNS-1.15.0" on its first line.
	first, _, _ := strings.Cut(string(out), "\n")
	if want := "CoreDNS-" + strings.TrimPrefix(CoreDNSVersion, "v"); strings.TrimSpace(first) != want {
		return nil, fmt.Errorf("%s is %q, want %s (rebuild it: make %s)", binary, strings.TrimSpace(first), want, binary)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	for _, h := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"etc/", 0o755, nil},
		{"etc/coredns/", 0o755, nil},
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/:/coredns\nnobody:x:65534:65534:nobody:/:/coredns\n")},
		{"etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")},
		{"coredns", 0o755, bin},
	} {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: h.name, Mode: h.mode, Size: int64(len(h.data)), ModTime: mtime}
		if strings.HasSuffix(h.name, "/") {
			hdr.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(h.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EnsureCoreDNSImage imports CoreDNSImage, built from the coredns binary at binary, into the Podman service of rt
// unless it is there already. It reports whether it imported it.
func EnsureCoreDNSImage(ctx context.Context, rt podman.ImageRuntime, binary string) (bool, error) {
	ok, err := rt.ImageExists(ctx, CoreDNSImage)
	if err != nil || ok {
		return false, err
	}
	rootfs, err := CoreDNSRootfs(binary)
	if err != nil {
		return false, err
	}
	if err := rt.ImportImage(ctx, CoreDNSImage, bytes.NewReader(rootfs)); err != nil {
		return false, err
	}
	return true, nil
}

// CoreDNSObjects decodes manifests/coredns.yaml into typed objects, in the file's order (ServiceAccount,
// ClusterRole, ClusterRoleBinding, ConfigMap, Deployment, Service). A field the types do not know is an error.
func CoreDNSObjects() ([]runtime.Object, error) {
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	docs, err := yamlDocs(manifests.CoreDNS)
	if err != nil {
		return nil, fmt.Errorf("manifests/coredns.yaml: %w", err)
	}
	var objs []runtime.Object
	for i, doc := range docs {
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode manifests/coredns.yaml document %d: %w", i+1, err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// yamlDocs splits a multi-document YAML manifest into its non-empty documents.
func yamlDocs(manifest []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}
