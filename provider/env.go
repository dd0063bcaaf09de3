package provider

import (
	"fmt"
	"maps"
	"net"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1listers "k8s.io/client-go/listers/core/v1"
	nodev1listers "k8s.io/client-go/listers/node/v1"
	podresource "k8s.io/kubernetes/pkg/api/v1/resource"
	"k8s.io/kubernetes/pkg/fieldpath"
	"k8s.io/kubernetes/pkg/kubelet/envvars"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// Listers are the informer caches the provider reads to resolve environments.
type Listers struct {
	ConfigMaps corev1listers.ConfigMapLister
	Secrets    corev1listers.SecretLister
	Services   corev1listers.ServiceLister
	// Pods is the node's pods, for telling which adopted Podman pods a Kubernetes pod still claims (Run).
	Pods corev1listers.PodLister
	// RuntimeClasses are the cluster's RuntimeClasses, whose handlers name the OCI runtimes pods run under.
	RuntimeClasses nodev1listers.RuntimeClassLister
}

// configError is a container whose configuration cannot be resolved yet (a missing ConfigMap, Secret or key):
// the kubelet reports it as CreateContainerConfigError and tries again.
type configError struct{ msg string }

func (e configError) Error() string { return e.msg }

// envInputs is what an environment depends on besides the pod: the pod's IPs and the node's allocatable.
type envInputs struct {
	podIP, hostIP   string
	nodeAllocatable corev1.ResourceList
}

// environment resolves a container's environment as the kubelet's makeEnvironmentVariables does: service links,
// envFrom (with prefix), then env in order with $(VAR) expansion and every valueFrom source.
func (p *Provider) environment(pod *corev1.Pod, c *corev1.Container, in envInputs) ([]corev1.EnvVar, error) {
	l := p.listers
	result := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := result[k]; !ok {
			order = append(order, k)
		}
		result[k] = v
	}
	svcEnv := map[string]string{}
	if l.Services != nil {
		links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
		svcs, err := p.serviceEnv(pod.Namespace, links)
		if err != nil {
			return nil, err
		}
		svcEnv = svcs
	}

	for _, ef := range c.EnvFrom {
		if l.ConfigMaps == nil || l.Secrets == nil {
			return nil, configError{"envFrom cannot be resolved: no ConfigMap/Secret informers"}
		}
		var data map[string]string
		switch {
		case ef.ConfigMapRef != nil:
			optional := ef.ConfigMapRef.Optional != nil && *ef.ConfigMapRef.Optional
			cm, err := l.ConfigMaps.ConfigMaps(pod.Namespace).Get(ef.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional {
					continue
				}
				return nil, notFound(err, "configmap", ef.ConfigMapRef.Name)
			}
			data = cm.Data
		case ef.SecretRef != nil:
			optional := ef.SecretRef.Optional != nil && *ef.SecretRef.Optional
			s, err := l.Secrets.Secrets(pod.Namespace).Get(ef.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional {
					continue
				}
				return nil, notFound(err, "secret", ef.SecretRef.Name)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		keys := sorted(data)
		for _, k := range keys {
			// Every name is kept, as the kubelet of 1.37 keeps them: the apiserver's relaxed validation
			// (RelaxedEnvironmentVariableValidation, GA) admits any printable prefix, and keys are valid names.
			set(ef.Prefix+k, data[k])
		}
	}

	mapping := expansion.MappingFuncFor(result, svcEnv)
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expansion.Expand(e.Value, mapping))
			continue
		}
		v, ok, err := p.valueFrom(pod, c, e.ValueFrom, in)
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, v)
		}
	}
	for _, k := range sorted(svcEnv) {
		if _, ok := result[k]; !ok {
			set(k, svcEnv[k])
		}
	}
	out := make([]corev1.EnvVar, 0, len(order))
	for _, k := range order {
		out = append(out, corev1.EnvVar{Name: k, Value: result[k]})
	}
	return out, nil
}

// valueFrom resolves one env var's source; ok is false when an optional source is absent.
func (p *Provider) valueFrom(pod *corev1.Pod, c *corev1.Container, vf *corev1.EnvVarSource, in envInputs) (string, bool, error) {
	l := p.listers
	if (vf.ConfigMapKeyRef != nil && l.ConfigMaps == nil) || (vf.SecretKeyRef != nil && l.Secrets == nil) {
		return "", false, configError{"env valueFrom cannot be resolved: no ConfigMap/Secret informers"}
	}
	switch {
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := l.ConfigMaps.ConfigMaps(pod.Namespace).Get(ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, notFound(err, "configmap", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, configError{fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return v, true, nil
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := l.Secrets.Secrets(pod.Namespace).Get(ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, notFound(err, "secret", ref.Name)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, configError{fmt.Sprintf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return string(v), true, nil
	case vf.FieldRef != nil:
		switch vf.FieldRef.FieldPath {
		case "spec.nodeName":
			return pod.Spec.NodeName, true, nil
		case "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, true, nil
		case "status.hostIP", "status.hostIPs":
			return in.hostIP, true, nil
		case "status.podIP", "status.podIPs":
			return in.podIP, true, nil
		}
		v, err := fieldpath.ExtractFieldPathAsString(pod, vf.FieldRef.FieldPath)
		if err != nil {
			return "", false, configError{fmt.Sprintf("resolve fieldRef %s: %v", vf.FieldRef.FieldPath, err)}
		}
		return v, true, nil
	case vf.ResourceFieldRef != nil:
		name := vf.ResourceFieldRef.ContainerName
		if name == "" {
			name = c.Name
		}
		v, err := podresource.ExtractResourceValueByContainerNameAndNodeAllocatable(vf.ResourceFieldRef, pod, name, in.nodeAllocatable)
		if err != nil {
			return "", false, configError{fmt.Sprintf("resolve resourceFieldRef %s: %v", vf.ResourceFieldRef.Resource, err)}
		}
		return v, true, nil
	case vf.FileKeyRef != nil:
		return "", false, configError{"env valueFrom.fileKeyRef is not supported by Berth yet"}
	}
	return "", false, configError{"env valueFrom has no source"}
}

// serviceEnv is the service-link environment as the kubelet's getServiceEnvVarMap builds it: the services of the
// namespace when links are enabled, and always the master "kubernetes" service. With Config.APIServer set, the
// kubernetes service's variables name that address instead of its cluster IP (no kube-proxy routes it here).
func (p *Provider) serviceEnv(ns string, links bool) (map[string]string, error) {
	all, err := p.listers.Services.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	byName := map[string]*corev1.Service{}
	for _, s := range all {
		if s.Spec.ClusterIP == "" || s.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		master := s.Namespace == metav1.NamespaceDefault && s.Name == "kubernetes"
		if master && p.cfg.APIServer != "" {
			s = p.apiserverService(s)
		}
		if s.Namespace == ns && (links || master) {
			byName[s.Name] = s
		} else if master {
			if _, ok := byName[s.Name]; !ok {
				byName[s.Name] = s
			}
		}
	}
	svcs := make([]*corev1.Service, 0, len(byName))
	for _, s := range byName {
		svcs = append(svcs, s)
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	out := map[string]string{}
	for _, e := range envvars.FromServices(svcs) {
		out[e.Name] = e.Value
	}
	return out, nil
}

// apiserverService is a copy of the kubernetes service whose address and port are Config.APIServer's.
func (p *Provider) apiserverService(s *corev1.Service) *corev1.Service {
	host, port, err := net.SplitHostPort(p.cfg.APIServer)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		return s
	}
	s = s.DeepCopy()
	s.Spec.ClusterIP = host
	for i := range s.Spec.Ports {
		if s.Spec.Ports[i].Name == "https" || len(s.Spec.Ports) == 1 {
			s.Spec.Ports[i].Port = int32(n)
		}
	}
	return s
}

func notFound(err error, kind, name string) error {
	if apierrors.IsNotFound(err) {
		return configError{fmt.Sprintf("%s %q not found", kind, name)}
	}
	return configError{fmt.Sprintf("get %s %q: %v", kind, name, err)}
}

func sorted(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
