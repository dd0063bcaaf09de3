package provider

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

func testListers(t *testing.T, objs ...any) Listers {
	t.Helper()
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	cms, secrets, svcs := idx(), idx(), idx()
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *corev1.ConfigMap:
			err = cms.Add(o)
		case *corev1.Secret:
			err = secrets.Add(o)
		case *corev1.Service:
			err = svcs.Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return Listers{ConfigMaps: corev1listers.NewConfigMapLister(cms), Secrets: corev1listers.NewSecretLister(secrets), Services: corev1listers.NewServiceLister(svcs)}
}

func TestEnvironment(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "settings"}, Data: map[string]string{"mode": "fast", "level": "3", "bad-key!": "x"}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "creds"}, Data: map[string][]byte{"password": []byte("s3cret")}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", Ports: []corev1.ServicePort{{Port: 5432, Protocol: corev1.ProtocolTCP}}}}
	other := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "elsewhere", Name: "cache"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.30", Ports: []corev1.ServicePort{{Port: 6379}}}}
	optional := true
	pod := func(c corev1.Container) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u1", Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{NodeName: "node-a", ServiceAccountName: "default", Containers: []corev1.Container{c}},
		}
	}
	in := envInputs{podIP: "10.89.0.7", hostIP: "192.0.2.2", nodeAllocatable: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourceCPU: resource.MustParse("2")}}
	tests := []struct {
		name    string
		c       corev1.Container
		want    map[string]string
		absent  []string
		wantErr string
	}{
		{
			name: "literal values expand earlier ones and service links",
			c: corev1.Container{Name: "c", Env: []corev1.EnvVar{
				{Name: "A", Value: "one"}, {Name: "B", Value: "$(A)-two-$(DB_SERVICE_HOST)"}, {Name: "C", Value: "$$(A) $(NOPE)"},
			}},
			want:   map[string]string{"A": "one", "B": "one-two-10.96.0.20", "C": "$(A) $(NOPE)", "DB_SERVICE_HOST": "10.96.0.20", "DB_SERVICE_PORT": "5432", "DB_PORT": "tcp://10.96.0.20:5432"},
			absent: []string{"CACHE_SERVICE_HOST"},
		},
		{
			name: "configMap, secret, fieldRef and resourceFieldRef",
			c: corev1.Container{Name: "c",
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
				Env: []corev1.EnvVar{
					{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "mode"}}},
					{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
					{Name: "NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
					{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
					{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
					{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
				}},
			want: map[string]string{"MODE": "fast", "PW": "s3cret", "POD_IP": "10.89.0.7", "HOST_IP": "192.0.2.2", "NAME": "web", "APP": "web", "NODE": "node-a", "MEM_MI": "64", "CPU": "2"},
		},
		{
			name: "a prefix starting with a digit or made of symbols is kept (conformance: envFrom with various prefixes)",
			c: corev1.Container{Name: "c",
				EnvFrom: []corev1.EnvFromSource{{Prefix: "1-", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
					{Prefix: "#@!", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}},
			want: map[string]string{"1-mode": "fast", "#@!level": "3"},
		},
		{
			name: "envFrom with prefix keeps every name, as the kubelet of 1.37 does (relaxed names); env wins over envFrom",
			c: corev1.Container{Name: "c",
				EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
				Env:     []corev1.EnvVar{{Name: "CFG_level", Value: "override"}}},
			want: map[string]string{"CFG_mode": "fast", "CFG_level": "override", "CFG_bad-key!": "x"},
		},
		{
			name:   "optional missing sources are skipped",
			c:      corev1.Container{Name: "c", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: &optional}}}}},
			absent: []string{"X"},
		},
		{
			name:    "missing configMap",
			c:       corev1.Container{Name: "c", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}}}},
			wantErr: `configmap "nope" not found`,
		},
		{
			name:    "missing key",
			c:       corev1.Container{Name: "c", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "user"}}}}},
			wantErr: "couldn't find key user in Secret shop/creds",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Config{})
			p.SetListers(testListers(t, cm, sec, svc, other))
			pd := pod(tc.c)
			env, err := p.environment(pd, &pd.Spec.Containers[0], in)
			checkEnvironment(t, env, err, tc.want, tc.absent, tc.wantErr)
		})
	}
}

// checkEnvironment checks a resolved environment: the variables wanted and absent, or a config error containing
// wantErr.
func checkEnvironment(t *testing.T, env []corev1.EnvVar, err error, want map[string]string, absent []string, wantErr string) {
	t.Helper()
	if wantErr != "" {
		var ce configError
		if err == nil || !strings.Contains(err.Error(), wantErr) || !errors.As(err, &ce) {
			t.Fatalf("error %v, want a config error containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range env {
		got[e.Name] = e.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range absent {
		if _, ok := got[k]; ok {
			t.Errorf("%s is set (%q), want absent", k, got[k])
		}
	}
}

// TestEnvironmentServiceLinks checks enableServiceLinks: false leaves out the variables of the namespace's services
// but keeps the kubernetes service's, as the kubelet does; and that fileKeyRef, which Berth does not support, is a
// configuration error rather than a variable left out.
func TestEnvironmentServiceLinks(t *testing.T) {
	db := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", Ports: []corev1.ServicePort{{Port: 5432, Protocol: corev1.ProtocolTCP}}}}
	master := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}}
	p := New(Config{})
	p.SetListers(testListers(t, db, master))
	no := false
	tests := []struct {
		name    string
		links   *bool
		env     []corev1.EnvVar
		want    map[string]string
		absent  []string
		wantErr string
	}{
		{name: "links by default", want: map[string]string{"DB_SERVICE_HOST": "10.96.0.20", "KUBERNETES_SERVICE_HOST": "10.96.0.1"}},
		{name: "links disabled", links: &no, want: map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, absent: []string{"DB_SERVICE_HOST", "DB_PORT"}},
		{name: "fileKeyRef", env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FileKeyRef: &corev1.FileKeySelector{VolumeName: "cfg", Path: "app.env", Key: "X"}}}},
			wantErr: "env valueFrom.fileKeyRef is not supported by Berth yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
				Spec: corev1.PodSpec{EnableServiceLinks: tc.links, Containers: []corev1.Container{{Name: "c", Env: tc.env}}}}
			env, err := p.environment(pod, &pod.Spec.Containers[0], envInputs{})
			checkEnvironment(t, env, err, tc.want, tc.absent, tc.wantErr)
		})
	}
}

// TestEnvValuesStayOutOfMessages checks that when a container's environment cannot be resolved, the waiting
// message and the event name the missing key, never a value resolved from a Secret (or a literal value).
func TestEnvValuesStayOutOfMessages(t *testing.T) {
	const secretValue, literal = "hunter2-very-secret", "literal-password-value"
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "creds"}, Data: map[string][]byte{"password": []byte(secretValue)}}
	c := testContainer("app", "busybox")
	c.Env = []corev1.EnvVar{
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
		{Name: "LITERAL", Value: literal},
		{Name: "ECHO", Value: "$(PASSWORD)"},
		{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
	}
	c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}}
	pod := lifecyclePod("secret-env", corev1.RestartPolicyAlways, nil, c)

	h := newHarness(t, "busybox")
	rec := record.NewFakeRecorder(1000)
	h.p.cfg.Recorder = rec
	h.p.SetListers(testListers(t, sec))
	h.create(pod)
	got, _ := h.waitReported(pod, 0, "CreateContainerConfigError", func(p *corev1.Pod) bool { return waitingFor(p, "app", "CreateContainerConfigError") })
	msg := statusOf(got, "app").State.Waiting.Message
	if msg != "couldn't find key token in Secret default/creds" {
		t.Errorf("message %q", msg)
	}
	h.mu.Lock()
	seen := append([]*corev1.Pod(nil), h.seen...)
	h.mu.Unlock()
	for _, p := range seen {
		for _, s := range []string{fmt.Sprint(p.Status), p.Status.Message} {
			if strings.Contains(s, secretValue) || strings.Contains(s, literal) {
				t.Errorf("a reported status holds an env value: %s", s)
			}
		}
	}
	for done := false; !done; {
		select {
		case ev := <-rec.Events:
			if strings.Contains(ev, secretValue) || strings.Contains(ev, literal) {
				t.Errorf("an event holds an env value: %s", ev)
			}
		default:
			done = true
		}
	}
}
