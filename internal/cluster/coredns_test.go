package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2/ktesting"

	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/provider/podman"
)

// fakeCoreDNS writes a script that answers -version as a coredns binary of the given version does.
func fakeCoreDNS(t *testing.T, version string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "coredns")
	script := "#!/bin/sh\necho CoreDNS-" + version + "\necho 'linux/amd64, go1.26.8, '\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCoreDNSRootfs(t *testing.T) {
	bin := fakeCoreDNS(t, strings.TrimPrefix(CoreDNSVersion, "v"))
	rootfs, err := CoreDNSRootfs(bin)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]*tar.Header{}
	contents := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(rootfs))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[hdr.Name], contents[hdr.Name] = hdr, data
	}
	var names []string
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	if wantNames := []string{"coredns", "etc/", "etc/coredns/", "etc/group", "etc/passwd"}; !slices.Equal(names, wantNames) {
		t.Errorf("rootfs entries %v, want %v", names, wantNames)
	}
	if h := entries["coredns"]; h == nil || h.Typeflag != tar.TypeReg || h.Mode != 0o755 || !bytes.Equal(contents["coredns"], want) {
		t.Errorf("/coredns is not the binary, executable: %+v", h)
	}
	if h := entries["etc/coredns/"]; h == nil || h.Typeflag != tar.TypeDir {
		t.Errorf("/etc/coredns is not a directory: %+v", h)
	}
	if !bytes.Contains(contents["etc/passwd"], []byte("\nnobody:x:65534:65534:")) {
		t.Errorf("/etc/passwd has no nobody: %q", contents["etc/passwd"])
	}
}

func TestCoreDNSRootfsRefuses(t *testing.T) {
	tests := []struct {
		name    string
		binary  func(t *testing.T) string
		wantErr string
	}{
		{"missing binary", func(t *testing.T) string { return filepath.Join(t.TempDir(), "coredns") }, "make build builds it"},
		{"other version", func(t *testing.T) string { return fakeCoreDNS(t, "1.11.1") }, `is "CoreDNS-1.11.1", want CoreDNS-`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CoreDNSRootfs(tc.binary(t))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// images is an ImageRuntime holding the images imported into it.
type images struct {
	podman.ImageRuntime
	imported map[string][]byte
}

func (im *images) ImageExists(_ context.Context, ref string) (bool, error) {
	_, ok := im.imported[ref]
	return ok, nil
}

func (im *images) ImportImage(_ context.Context, ref string, rootfs io.Reader) error {
	data, err := io.ReadAll(rootfs)
	im.imported[ref] = data
	return err
}

func TestEnsureCoreDNSImage(t *testing.T) {
	bin := fakeCoreDNS(t, strings.TrimPrefix(CoreDNSVersion, "v"))
	rt := &images{imported: map[string][]byte{}}
	for i, wantImported := range []bool{true, false} {
		imported, err := EnsureCoreDNSImage(context.Background(), rt, bin)
		if err != nil || imported != wantImported {
			t.Fatalf("call %d: imported %v, %v; want %v", i+1, imported, err, wantImported)
		}
	}
	if len(rt.imported[CoreDNSImage]) == 0 {
		t.Errorf("nothing imported as %s: %v", CoreDNSImage, rt.imported)
	}
}

// TestCoreDNSVersion checks that hack/coredns builds the CoreDNS release the image is named after.
func TestCoreDNSVersion(t *testing.T) {
	gomod, err := os.ReadFile("../../hack/coredns/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if want := "github.com/coredns/coredns " + CoreDNSVersion + "\n"; !bytes.Contains(gomod, []byte(want)) {
		t.Errorf("hack/coredns/go.mod does not require %q:\n%s", want, gomod)
	}
}

// TestCoreDNSObjects checks manifests/coredns.yaml: kubeadm's objects, tied together (the binding's subject is
// the Deployment's ServiceAccount, the Service selects its pods, the volume is the ConfigMap), with Berth's image.
func TestCoreDNSObjects(t *testing.T) {
	objs, err := CoreDNSObjects()
	if err != nil {
		t.Fatal(err)
	}
	var (
		sa      *corev1.ServiceAccount
		role    *rbacv1.ClusterRole
		binding *rbacv1.ClusterRoleBinding
		cm      *corev1.ConfigMap
		deploy  *appsv1.Deployment
		svc     *corev1.Service
	)
	var got []string
	for _, obj := range objs {
		m := obj.(metav1.Object)
		got = append(got, obj.GetObjectKind().GroupVersionKind().Kind+" "+m.GetNamespace()+"/"+m.GetName())
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			sa = o
		case *rbacv1.ClusterRole:
			role = o
		case *rbacv1.ClusterRoleBinding:
			binding = o
		case *corev1.ConfigMap:
			cm = o
		case *appsv1.Deployment:
			deploy = o
		case *corev1.Service:
			svc = o
		}
	}
	want := []string{
		"ServiceAccount kube-system/coredns", "ClusterRole /system:coredns", "ClusterRoleBinding /system:coredns",
		"ConfigMap kube-system/coredns", "Deployment kube-system/coredns", "Service kube-system/kube-dns",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("objects %v, want %v", got, want)
	}

	wantRules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
	}
	if len(role.Rules) != len(wantRules) {
		t.Fatalf("ClusterRole rules %+v, want %+v", role.Rules, wantRules)
	}
	for i, r := range wantRules {
		g := role.Rules[i]
		if !slices.Equal(g.APIGroups, r.APIGroups) || !slices.Equal(g.Resources, r.Resources) || !slices.Equal(g.Verbs, r.Verbs) {
			t.Errorf("ClusterRole rule %d %+v, want %+v", i, g, r)
		}
	}
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 ||
		binding.Subjects[0] != (rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}) {
		t.Errorf("ClusterRoleBinding %+v does not bind %s to ServiceAccount %s/%s", binding, role.Name, sa.Namespace, sa.Name)
	}

	corefile := cm.Data["Corefile"]
	for _, line := range []string{".:53 {", "kubernetes cluster.local in-addr.arpa ip6.arpa {", "forward . /etc/resolv.conf {", "prometheus :9153", "ready", "loop"} {
		if !strings.Contains(corefile, "\n    "+line+"\n") && !strings.HasPrefix(corefile, line+"\n") {
			t.Errorf("Corefile has no line %q:\n%s", line, corefile)
		}
	}

	pod := deploy.Spec.Template.Spec
	if pod.ServiceAccountName != sa.Name || pod.DNSPolicy != corev1.DNSDefault || pod.PriorityClassName != "system-cluster-critical" {
		t.Errorf("pod serviceAccountName %q, dnsPolicy %q, priorityClassName %q", pod.ServiceAccountName, pod.DNSPolicy, pod.PriorityClassName)
	}
	logger, _ := ktesting.NewTestContext(t)
	tolerates := slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
		return tol.ToleratesTaint(logger, &corev1.Taint{Key: wellknown.LabelPodman, Value: "true", Effect: corev1.TaintEffectNoSchedule}, false)
	})
	if !tolerates {
		t.Errorf("pod tolerations %+v do not tolerate %s=true:NoSchedule", pod.Tolerations, wellknown.LabelPodman)
	}
	if len(pod.Volumes) != 1 || pod.Volumes[0].ConfigMap == nil || pod.Volumes[0].ConfigMap.Name != cm.Name {
		t.Errorf("pod volumes %+v, want the ConfigMap %s", pod.Volumes, cm.Name)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != CoreDNSImage || c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("image %s (%s), want %s (Never)", c.Image, c.ImagePullPolicy, CoreDNSImage)
	}
	if args := append(slices.Clone(c.Command), c.Args...); !slices.Equal(args, []string{"/coredns", "-conf", "/etc/coredns/Corefile"}) {
		t.Errorf("command and args %v", args)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/etc/coredns" {
		t.Errorf("volume mounts %+v, want the Corefile's folder /etc/coredns", c.VolumeMounts)
	}
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	for name, want := range map[string]corev1.ContainerPort{
		"dns":             {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
		"dns-tcp":         {Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
		"metrics":         {Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP},
		"liveness-probe":  {Name: "liveness-probe", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
		"readiness-probe": {Name: "readiness-probe", ContainerPort: 8181, Protocol: corev1.ProtocolTCP},
	} {
		if ports[name] != want {
			t.Errorf("port %s %+v, want %+v", name, ports[name], want)
		}
	}
	for _, p := range []struct {
		probe      *corev1.Probe
		path, port string
	}{{c.LivenessProbe, "/health", "liveness-probe"}, {c.ReadinessProbe, "/ready", "readiness-probe"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != intstr.FromString(p.port) {
			t.Errorf("probe %+v, want GET %s on %s", p.probe, p.path, p.port)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_BIND_SERVICE"}) ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("securityContext %+v, want kubeadm's", sc)
	}

	if svc.Spec.ClusterIP != "10.96.0.10" || svc.Labels["k8s-app"] != "kube-dns" {
		t.Errorf("Service clusterIP %s, labels %v", svc.Spec.ClusterIP, svc.Labels)
	}
	for k, v := range svc.Spec.Selector {
		if deploy.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %v does not select the pods (labels %v)", svc.Spec.Selector, deploy.Spec.Template.Labels)
		}
	}
	wantPorts := []corev1.ServicePort{
		{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
		{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
		{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)},
	}
	if !slices.Equal(svc.Spec.Ports, wantPorts) {
		t.Errorf("Service ports %+v, want %+v", svc.Spec.Ports, wantPorts)
	}
}
