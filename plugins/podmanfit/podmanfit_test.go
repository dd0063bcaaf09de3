package podmanfit

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultbinder"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeunschedulable"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/tainttoleration"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
	st "k8s.io/kubernetes/pkg/scheduler/testing"
	tf "k8s.io/kubernetes/pkg/scheduler/testing/framework"

	"github.com/berth-dev/berth/internal/persistentvolume"
	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/plugins/apis/config"
	"github.com/berth-dev/berth/provider/podspec"
)

func init() {
	metrics.Register()
}

const gpu = corev1.ResourceName("example.com/gpu")

// testNow is the plugin's clock in every test.
var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// nodeWrapper is a Ready node with 2 CPUs, 4Gi of memory, 10Gi of ephemeral storage, 32 pods and one GPU.
func nodeWrapper(name string) *st.NodeWrapper {
	return st.MakeNode().Name(name).
		Capacity(map[corev1.ResourceName]string{
			corev1.ResourceCPU:              "2",
			corev1.ResourceMemory:           "4Gi",
			corev1.ResourceEphemeralStorage: "10Gi",
			corev1.ResourcePods:             "32",
			gpu:                             "1",
		}).
		Condition(corev1.NodeReady, corev1.ConditionTrue, "kubelet is posting ready status", "KubeletReady")
}

// podmanNode is a Ready Podman node whose host reported availBytes of available memory (MemAvailable) age ago.
func podmanNode(name string, availBytes int64, age time.Duration) *st.NodeWrapper {
	return nodeWrapper(name).
		Label(wellknown.LabelPodman, "true").
		Annotation(wellknown.AnnotationFreeMemory, strconv.FormatInt(availBytes, 10)).
		Annotation(wellknown.AnnotationObservedAt, testNow.Add(-age).Format(time.RFC3339))
}

// ephemeralVolume is a generic ephemeral volume, whose claim the ephemeral volume controller makes.
func ephemeralVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
		VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		}},
	}}}
}

// existing is a pod already on (or assumed on) node1.
func existing(name string, req map[corev1.ResourceName]string) *st.PodWrapper {
	return st.MakePod().Name(name).Namespace("default").UID(name).Node("node1").Req(req)
}

// newFramework runs PodmanFit in a real framework, whose informers hold objs (claims, PersistentVolumes,
// StorageClasses). A nil args takes the defaults the framework decodes from the scheme, as the scheduler does for a
// profile without pluginConfig.
func newFramework(ctx context.Context, t *testing.T, args *config.PodmanFitArgs, nodes []*corev1.Node, pods []*corev1.Pod, objs ...runtime.Object) (framework.Framework, *PodmanFit) {
	t.Helper()
	sharedInformers := informers.NewSharedInformerFactory(fake.NewClientset(objs...), 0)
	var pl *PodmanFit
	factory := func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
		if args != nil {
			obj = args
		}
		p, err := New(ctx, obj, h)
		if err != nil {
			return nil, err
		}
		pl = p.(*PodmanFit)
		pl.now = func() time.Time { return testNow }
		return pl, nil
	}
	f, err := tf.NewFramework(ctx,
		[]tf.RegisterPluginFunc{
			tf.RegisterQueueSortPlugin(queuesort.Name, queuesort.New),
			tf.RegisterBindPlugin(defaultbinder.Name, defaultbinder.New),
			tf.RegisterPluginAsExtensions(Name, factory, "PreFilter", "Filter"),
		},
		"berth-scheduler",
		frameworkruntime.WithSnapshotSharedLister(cache.NewSnapshot(pods, nodes)),
		frameworkruntime.WithInformerFactory(sharedInformers),
	)
	if err != nil {
		t.Fatalf("creating framework: %v", err)
	}
	// As the scheduler: the plugins asked for their informers, then the factory starts.
	sharedInformers.Start(ctx.Done())
	sharedInformers.WaitForCacheSync(ctx.Done())
	return f, pl
}

// The claims, PersistentVolumes and StorageClasses of the claim tests.
var (
	noProvisionerClass = &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-disks"}, Provisioner: "kubernetes.io/no-provisioner",
		VolumeBindingMode: ptr(storagev1.VolumeBindingWaitForFirstConsumer)}
	dynamicClass = &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Provisioner: "ebs.csi.aws.com",
		VolumeBindingMode: ptr(storagev1.VolumeBindingWaitForFirstConsumer)}
	hostPathSource = corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/pv"}}
	localSource    = corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disks/a"}}
	nfsSource      = corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "192.0.2.1", Path: "/exports"}}
	csiSource      = corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com", VolumeHandle: "vol-1"}}
)

func ptr[T any](v T) *T { return &v }

// claim is an unbound claim of namespace default, of the StorageClass class ("" for none).
func claim(name, class string) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)}}
	if class != "" {
		pvc.Spec.StorageClassName = &class
	}
	return pvc
}

// bound is a claim bound to a PersistentVolume of source src (named pv-<claim>), and that volume.
func bound(name string, src corev1.PersistentVolumeSource) []runtime.Object {
	pvc := claim(name, "")
	pvc.Spec.VolumeName, pvc.Status.Phase = "pv-"+name, corev1.ClaimBound
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-" + name}, Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: src,
		ClaimRef: &corev1.ObjectReference{Namespace: "default", Name: name, UID: pvc.UID}}}
	return []runtime.Object{pvc, pv}
}

// ownedBy makes the claims among objs the pod's, as the ephemeral volume controller makes an ephemeral volume's.
func ownedBy(pod *corev1.Pod, objs ...runtime.Object) []runtime.Object {
	for _, o := range objs {
		if pvc, ok := o.(*corev1.PersistentVolumeClaim); ok {
			pvc.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, Controller: ptr(true)}}
		}
	}
	return objs
}

func TestFilter(t *testing.T) {
	mib := func(n int64) int64 { return n << 20 }
	tests := []struct {
		name     string
		args     *config.PodmanFitArgs
		pod      *corev1.Pod
		node     *corev1.Node
		existing []*corev1.Pod
		objs     []runtime.Object // claims, PersistentVolumes, StorageClasses
		want     *fwk.Status
	}{
		{
			name: "pod fits",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "500m", corev1.ResourceMemory: "1Gi"}).Obj(),
			node: nodeWrapper("node1").Obj(),
		},
		{
			name: "best-effort pod fits",
			pod:  st.MakePod().Name("p").Container("busybox").Obj(),
			node: nodeWrapper("node1").Obj(),
		},
		{
			name: "pod takes exactly what is free",
			pod: st.MakePod().Name("p").Req(map[corev1.ResourceName]string{
				corev1.ResourceCPU: "2", corev1.ResourceMemory: "4Gi", corev1.ResourceEphemeralStorage: "10Gi", gpu: "1",
			}).Obj(),
			node: nodeWrapper("node1").Obj(),
		},
		{
			// Left to the taints the node lifecycle controller sets (TestFilterLeavesNotReadyToTaints).
			name: "node not Ready passes",
			pod:  st.MakePod().Name("p").Obj(),
			node: nodeWrapper("node1").Condition(corev1.NodeReady, corev1.ConditionFalse, "container runtime is down", "KubeletNotReady").Obj(),
		},
		{
			name: "cordoned node",
			pod:  st.MakePod().Name("p").Obj(),
			node: nodeWrapper("node1").Unschedulable(true).Obj(),
			want: fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "node is unschedulable"),
		},
		{
			name: "cordoned node, pod tolerates node.kubernetes.io/unschedulable:NoSchedule",
			pod: st.MakePod().Name("p").Tolerations([]corev1.Toleration{{
				Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
			}}).Obj(),
			node: nodeWrapper("node1").Unschedulable(true).Obj(),
		},
		{
			name: "cordoned node, pod tolerates the key with any effect",
			pod:  st.MakePod().Name("p").Toleration(corev1.TaintNodeUnschedulable).Obj(),
			node: nodeWrapper("node1").Unschedulable(true).Obj(),
		},
		{
			name: "cordoned node, pod tolerates everything",
			pod:  st.MakePod().Name("p").Tolerations([]corev1.Toleration{{Operator: corev1.TolerationOpExists}}).Obj(),
			node: nodeWrapper("node1").Unschedulable(true).Obj(),
		},
		{
			name: "cordoned node, pod tolerates only NoExecute",
			pod: st.MakePod().Name("p").Tolerations([]corev1.Toleration{{
				Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute,
			}}).Obj(),
			node: nodeWrapper("node1").Unschedulable(true).Obj(),
			want: fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "node is unschedulable"),
		},
		{
			name: "cordoned node, pod tolerates another key",
			pod:  st.MakePod().Name("p").Toleration(corev1.TaintNodeNotReady).Obj(),
			node: nodeWrapper("node1").Unschedulable(true).Obj(),
			want: fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "node is unschedulable"),
		},
		{
			name: "too many pods",
			pod:  st.MakePod().Name("p").Obj(),
			node: nodeWrapper("node1").Capacity(map[corev1.ResourceName]string{corev1.ResourcePods: "2"}).Obj(),
			existing: []*corev1.Pod{
				existing("e1", nil).Obj(),
				existing("e2", nil).Obj(),
			},
			want: fwk.NewStatus(fwk.Unschedulable, "Too many pods: 2 of 2 in use"),
		},
		{
			name: "too many pods hides insufficient resources",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "100"}).Obj(),
			node: nodeWrapper("node1").Capacity(map[corev1.ResourceName]string{corev1.ResourcePods: "1", corev1.ResourceCPU: "1"}).Obj(),
			existing: []*corev1.Pod{
				existing("e1", nil).Obj(),
			},
			want: fwk.NewStatus(fwk.Unschedulable, "Too many pods: 1 of 1 in use"),
		},
		{
			name: "insufficient cpu",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "3"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 3000m, free 2000m"),
		},
		{
			name: "insufficient memory",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "5Gi"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient memory: requested 5Gi, free 4Gi"),
		},
		{
			name: "insufficient memory, free not a whole number of Mi is rounded down",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "3500Mi"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			// 4Gi - 1000M = 3294967296 bytes = 3142.3Mi.
			existing: []*corev1.Pod{existing("e1", map[corev1.ResourceName]string{corev1.ResourceMemory: "1000M"}).Obj()},
			want:     fwk.NewStatus(fwk.Unschedulable, "Insufficient memory: requested 3500Mi, free 3142Mi"),
		},
		{
			name: "insufficient ephemeral-storage",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceEphemeralStorage: "11Gi"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient ephemeral-storage: requested 11Gi, free 10Gi"),
		},
		{
			name: "insufficient extended resource",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{gpu: "2"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient example.com/gpu: requested 2, free 1"),
		},
		{
			name: "extended resource the node does not have",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{"example.com/fpga": "1"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient example.com/fpga: requested 1, free 0"),
		},
		{
			name: "extended resource used by an existing pod",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{gpu: "1"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{
				existing("e1", map[corev1.ResourceName]string{gpu: "1"}).Obj(),
			},
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient example.com/gpu: requested 1, free 0"),
		},
		{
			name: "insufficient cpu, memory and ephemeral-storage at once, in that order",
			pod: st.MakePod().Name("p").Req(map[corev1.ResourceName]string{
				corev1.ResourceCPU: "2500m", corev1.ResourceMemory: "8Gi", corev1.ResourceEphemeralStorage: "20Gi",
			}).Obj(),
			node: nodeWrapper("node1").Obj(),
			want: fwk.NewStatus(fwk.Unschedulable,
				"Insufficient cpu: requested 2500m, free 2000m",
				"Insufficient memory: requested 8Gi, free 4Gi",
				"Insufficient ephemeral-storage: requested 20Gi, free 10Gi"),
		},
		{
			name: "app containers are summed",
			pod: st.MakePod().Name("p").
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "1200m"}).
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "1200m"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 2400m, free 2000m"),
		},
		{
			name: "init container larger than the app containers counts alone",
			pod: st.MakePod().Name("p").
				InitReq(map[corev1.ResourceName]string{corev1.ResourceCPU: "1500m"}).
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "300m"}).
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "300m"}).Obj(),
			node:     nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", map[corev1.ResourceName]string{corev1.ResourceCPU: "1"}).Obj()},
			want:     fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 1500m, free 1000m"),
		},
		{
			name: "init container larger than the app containers fits when it fits alone",
			pod: st.MakePod().Name("p").
				InitReq(map[corev1.ResourceName]string{corev1.ResourceCPU: "1500m"}).
				InitReq(map[corev1.ResourceName]string{corev1.ResourceCPU: "1500m"}).
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "300m"}).Obj(),
			node:     nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", map[corev1.ResourceName]string{corev1.ResourceCPU: "500m"}).Obj()},
		},
		{
			name: "sum of the app containers wins over a smaller init container",
			pod: st.MakePod().Name("p").
				InitReq(map[corev1.ResourceName]string{corev1.ResourceCPU: "500m"}).
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "900m"}).
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "900m"}).Obj(),
			node:     nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", map[corev1.ResourceName]string{corev1.ResourceCPU: "500m"}).Obj()},
			want:     fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 1800m, free 1500m"),
		},
		{
			name: "sidecar init container adds to the app containers",
			pod: st.MakePod().Name("p").
				SidecarReq(map[corev1.ResourceName]string{corev1.ResourceCPU: "500m"}).
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "1600m"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 2100m, free 2000m"),
		},
		{
			name: "sidecar init container adds to the init containers after it",
			pod: st.MakePod().Name("p").
				SidecarReq(map[corev1.ResourceName]string{corev1.ResourceCPU: "500m"}).
				InitReq(map[corev1.ResourceName]string{corev1.ResourceCPU: "1200m"}).
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "100m"}).Obj(),
			node:     nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", map[corev1.ResourceName]string{corev1.ResourceCPU: "400m"}).Obj()},
			want:     fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 1700m, free 1600m"),
		},
		{
			name: "pod overhead is counted",
			pod: st.MakePod().Name("p").
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "1800m", corev1.ResourceMemory: "3Gi"}).
				Overhead(corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("300m"),
					corev1.ResourceMemory: resource.MustParse("1536Mi"),
				}).Obj(),
			node: nodeWrapper("node1").Obj(),
			want: fwk.NewStatus(fwk.Unschedulable,
				"Insufficient cpu: requested 2100m, free 2000m",
				"Insufficient memory: requested 4608Mi, free 4Gi"),
		},
		{
			name: "assumed pods on the node count",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "600m", corev1.ResourceMemory: "1Gi"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{
				existing("e1", map[corev1.ResourceName]string{corev1.ResourceCPU: "1", corev1.ResourceMemory: "2Gi"}).Obj(),
				existing("e2", map[corev1.ResourceName]string{corev1.ResourceCPU: "500m", corev1.ResourceMemory: "512Mi"}).Obj(),
			},
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 600m, free 500m"),
		},
		{
			name: "overhead of assumed pods counts",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "1"}).Obj(),
			node: nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{
				existing("e1", map[corev1.ResourceName]string{corev1.ResourceCPU: "900m"}).
					Overhead(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}).Obj(),
			},
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 1000m, free 900m"),
		},
		{
			name:     "host port in use",
			pod:      st.MakePod().Name("p").HostPort(8080).Obj(),
			node:     nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", nil).HostPort(8080).Obj()},
			want:     fwk.NewStatus(fwk.Unschedulable, "host port is already in use: 8080/TCP"),
		},
		{
			name: "host port in use, UDP",
			pod: st.MakePod().Name("p").ContainerPort([]corev1.ContainerPort{
				{ContainerPort: 53, HostPort: 53, Protocol: corev1.ProtocolUDP},
			}).Obj(),
			node: nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", nil).ContainerPort([]corev1.ContainerPort{
				{ContainerPort: 53, HostPort: 53, Protocol: corev1.ProtocolUDP},
			}).Obj()},
			want: fwk.NewStatus(fwk.Unschedulable, "host port is already in use: 53/UDP"),
		},
		{
			name: "same host port, other protocol",
			pod: st.MakePod().Name("p").ContainerPort([]corev1.ContainerPort{
				{ContainerPort: 53, HostPort: 53, Protocol: corev1.ProtocolUDP},
			}).Obj(),
			node:     nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", nil).HostPort(53).Obj()},
		},
		{
			name: "same host port, other host IP",
			pod: st.MakePod().Name("p").ContainerPort([]corev1.ContainerPort{
				{ContainerPort: 80, HostPort: 8080, HostIP: "10.0.0.2"},
			}).Obj(),
			node: nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", nil).ContainerPort([]corev1.ContainerPort{
				{ContainerPort: 80, HostPort: 8080, HostIP: "10.0.0.1"},
			}).Obj()},
		},
		{
			name: "host port on all addresses conflicts with one on a single address",
			pod:  st.MakePod().Name("p").HostPort(8080).Obj(),
			node: nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", nil).ContainerPort([]corev1.ContainerPort{
				{ContainerPort: 80, HostPort: 8080, HostIP: "10.0.0.1"},
			}).Obj()},
			want: fwk.NewStatus(fwk.Unschedulable, "host port is already in use: 8080/TCP"),
		},
		{
			name:     "host port of a sidecar init container",
			pod:      st.MakePod().Name("p").InitContainerPort(true, []corev1.ContainerPort{{ContainerPort: 9090, HostPort: 9090}}).Obj(),
			node:     nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", nil).HostPort(9090).Obj()},
			want:     fwk.NewStatus(fwk.Unschedulable, "host port is already in use: 9090/TCP"),
		},
		{
			name:     "container port without a host port does not conflict",
			pod:      st.MakePod().Name("p").ContainerPort([]corev1.ContainerPort{{ContainerPort: 8080}}).Obj(),
			node:     nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", nil).HostPort(8080).Obj()},
		},
		{
			name: "insufficient resources are reported before host ports",
			pod: st.MakePod().Name("p").
				Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "3"}).HostPort(8080).Obj(),
			node:     nodeWrapper("node1").Obj(),
			existing: []*corev1.Pod{existing("e1", nil).HostPort(8080).Obj()},
			want:     fwk.NewStatus(fwk.Unschedulable, "Insufficient cpu: requested 3000m, free 2000m"),
		},
		{
			name: "persistentVolumeClaim bound to an nfs volume on a Podman node",
			pod:  st.MakePod().Namespace("default").Name("web-0").PVC("data").Obj(),
			node: podmanNode("node1", mib(4096), 10*time.Second).Obj(),
			objs: bound("data", nfsSource),
			want: fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
				"Podman nodes mount only hostPath and local persistent volumes: spec.volumes[data] (claim data: bound to PersistentVolume pv-data of type nfs)"),
		},
		{
			name: "persistentVolumeClaim bound to a hostPath volume on a Podman node",
			pod:  st.MakePod().Namespace("default").Name("web-0").PVC("data").Obj(),
			node: podmanNode("node1", mib(4096), 10*time.Second).Obj(),
			objs: bound("data", hostPathSource),
		},
		{
			name: "generic ephemeral volume on a Podman node, named by the claim the controller makes",
			pod:  st.MakePod().Namespace("default").Name("web-0").UID("web-0").Volume(ephemeralVolume("scratch")).Obj(),
			node: podmanNode("node1", mib(4096), 10*time.Second).Obj(),
			objs: ownedBy(st.MakePod().Namespace("default").Name("web-0").UID("web-0").Obj(), claim("web-0-scratch", "standard"), dynamicClass),
			want: fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
				"Podman nodes mount only hostPath and local persistent volumes: spec.volumes[scratch] (ephemeral claim web-0-scratch: StorageClass standard provisions its volumes with ebs.csi.aws.com)"),
		},
		{
			name: "every refused claim is named, other volumes are not",
			pod: st.MakePod().Namespace("default").Name("web-0").UID("web-0").Volume(corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}).
				Volume(corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0", ReadOnly: true}}}).
				Volume(corev1.Volume{Name: "logs", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "logs"}}}).
				Volume(ephemeralVolume("scratch")).Obj(),
			node: podmanNode("node1", mib(4096), 10*time.Second).Obj(),
			objs: slices.Concat(bound("data-web-0", csiSource), bound("logs", localSource),
				ownedBy(st.MakePod().Namespace("default").Name("web-0").UID("web-0").Obj(), bound("web-0-scratch", nfsSource)...)),
			want: fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
				"Podman nodes mount only hostPath and local persistent volumes: spec.volumes[data] (claim data-web-0: bound to PersistentVolume pv-data-web-0 of type csi (driver ebs.csi.aws.com)), "+
					"spec.volumes[scratch] (ephemeral claim web-0-scratch: bound to PersistentVolume pv-web-0-scratch of type nfs)"),
		},
		{
			name: "Podman node without a fresh observation refuses claims too",
			pod:  st.MakePod().Namespace("default").Name("web-0").PVC("data").Obj(),
			node: nodeWrapper("node1").Label(wellknown.LabelPodman, "true").Obj(),
			objs: bound("data", nfsSource),
			want: fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
				"Podman nodes mount only hostPath and local persistent volumes: spec.volumes[data] (claim data: bound to PersistentVolume pv-data of type nfs)"),
		},
		{
			name: "claims are reported before insufficient resources: preemption cannot help",
			pod:  st.MakePod().Namespace("default").Name("web-0").PVC("data").Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "3"}).Obj(),
			node: podmanNode("node1", mib(4096), 10*time.Second).Obj(),
			objs: bound("data", nfsSource),
			want: fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
				"Podman nodes mount only hostPath and local persistent volumes: spec.volumes[data] (claim data: bound to PersistentVolume pv-data of type nfs)"),
		},
		{
			name: "cordon is reported before claims",
			pod:  st.MakePod().Namespace("default").Name("web-0").PVC("data").Obj(),
			node: podmanNode("node1", mib(4096), 10*time.Second).Unschedulable(true).Obj(),
			objs: bound("data", nfsSource),
			want: fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "node is unschedulable"),
		},
		{
			name: "claims pass on a node that is not a Podman node",
			pod:  st.MakePod().Namespace("default").Name("web-0").PVC("data").Volume(ephemeralVolume("scratch")).Obj(),
			node: nodeWrapper("node1").Obj(),
			objs: slices.Concat(bound("data", nfsSource), []runtime.Object{claim("web-0-scratch", "standard"), dynamicClass}),
		},
		{
			name: "volumes without claims pass on a Podman node",
			pod: st.MakePod().Name("web-0").
				Volume(corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}).
				Volume(corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}).
				Volume(corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv"}}}).Obj(),
			node: podmanNode("node1", mib(4096), 10*time.Second).Obj(),
		},
		{
			name: "Podman host's observed available memory too low",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: podmanNode("node1", mib(300), 10*time.Second).Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient memory on Podman host: requested 512Mi, available 300Mi"),
		},
		{
			name: "Podman host's observed available memory, not a whole number of Mi",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "1Gi"}).Obj(),
			node: podmanNode("node1", 1000*1000*1000, 10*time.Second).Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient memory on Podman host: requested 1Gi, available 953Mi"),
		},
		{
			name: "Podman host's observed available memory enough",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: podmanNode("node1", mib(512), 10*time.Second).Obj(),
		},
		{
			name: "observation exactly maxObservationAge old is still used",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: podmanNode("node1", mib(300), 30*time.Second).Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient memory on Podman host: requested 512Mi, available 300Mi"),
		},
		{
			name: "stale observation is ignored",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: podmanNode("node1", mib(300), 31*time.Second).Obj(),
		},
		{
			name: "observation within a longer configured maxObservationAge",
			args: &config.PodmanFitArgs{ObservedMemory: true, MaxObservationAge: metav1.Duration{Duration: 2 * time.Minute}},
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: podmanNode("node1", mib(300), time.Minute).Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient memory on Podman host: requested 512Mi, available 300Mi"),
		},
		{
			name: "observation on a non-Podman node is ignored",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: func() *corev1.Node {
				n := podmanNode("node1", mib(300), 10*time.Second).Obj()
				delete(n.Labels, wellknown.LabelPodman)
				return n
			}(),
		},
		{
			name: "observation on a node labelled berth.dev/podman=false is ignored",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: podmanNode("node1", mib(300), 10*time.Second).Label(wellknown.LabelPodman, "false").Obj(),
		},
		{
			name: "observedMemory false ignores the observation",
			args: &config.PodmanFitArgs{ObservedMemory: false, MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}},
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: podmanNode("node1", mib(300), 10*time.Second).Obj(),
		},
		{
			name: "malformed available memory annotation is ignored",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: podmanNode("node1", 0, 10*time.Second).Annotation(wellknown.AnnotationFreeMemory, "lots").Obj(),
		},
		{
			name: "missing observed-at annotation ignores the observation",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).Obj(),
			node: func() *corev1.Node {
				n := podmanNode("node1", mib(300), 10*time.Second).Obj()
				delete(n.Annotations, wellknown.AnnotationObservedAt)
				return n
			}(),
		},
		{
			name: "pod without a memory request passes a host with no available memory",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "100m"}).Obj(),
			node: podmanNode("node1", 0, 10*time.Second).Obj(),
		},
		{
			name: "node's allocatable is checked before the host's observation",
			pod:  st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "5Gi"}).Obj(),
			node: podmanNode("node1", mib(300), 10*time.Second).Obj(),
			want: fwk.NewStatus(fwk.Unschedulable, "Insufficient memory: requested 5Gi, free 4Gi"),
		},
		{
			name: "host ports are checked before the host's observation",
			pod: st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceMemory: "512Mi"}).
				HostPort(8080).Obj(),
			node:     podmanNode("node1", mib(300), 10*time.Second).Obj(),
			existing: []*corev1.Pod{existing("e1", nil).HostPort(8080).Obj()},
			want:     fwk.NewStatus(fwk.Unschedulable, "host port is already in use: 8080/TCP"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()

			f, _ := newFramework(ctx, t, tc.args, []*corev1.Node{tc.node}, tc.existing, tc.objs...)
			state := framework.NewCycleState()
			if _, s, _ := f.RunPreFilterPlugins(ctx, state, tc.pod); !s.IsSuccess() {
				t.Fatalf("PreFilter: %v", s)
			}
			nodeInfo := framework.NewNodeInfo(tc.existing...)
			nodeInfo.SetNode(tc.node)

			got := f.RunFilterPlugins(ctx, state, tc.pod, nodeInfo)
			want := tc.want
			if want != nil {
				want = want.WithPlugin(Name)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Filter status (-want,+got):\n%s", diff)
			}
		})
	}
}

// filterProfile builds a framework whose filters are the given plugins, in that order, each also run at PreFilter
// when it has one, with TaintToleration after them: the part of a profile that decides on a node's readiness and
// cordon.
func filterProfile(ctx context.Context, t *testing.T, plugins ...tf.RegisterPluginFunc) framework.Framework {
	t.Helper()
	fts := feature.Features{}
	regs := []tf.RegisterPluginFunc{
		tf.RegisterQueueSortPlugin(queuesort.Name, queuesort.New),
		tf.RegisterBindPlugin(defaultbinder.Name, defaultbinder.New),
	}
	regs = append(regs, plugins...)
	regs = append(regs, tf.RegisterFilterPlugin(tainttoleration.Name, frameworkruntime.FactoryAdapter(fts, tainttoleration.New)))
	f, err := tf.NewFramework(ctx, regs, "test", frameworkruntime.WithSnapshotSharedLister(cache.NewEmptySnapshot()))
	if err != nil {
		t.Fatalf("creating framework: %v", err)
	}
	return f
}

// filterCode runs f's PreFilter and Filter plugins for pod on node and returns the code of the result, and the
// plugin and message of a refusal.
func filterCode(ctx context.Context, t *testing.T, f framework.Framework, pod *corev1.Pod, node *corev1.Node) (fwk.Code, string) {
	t.Helper()
	state := framework.NewCycleState()
	if _, s, _ := f.RunPreFilterPlugins(ctx, state, pod); !s.IsSuccess() {
		return s.Code(), s.Plugin() + ": " + s.Message()
	}
	nodeInfo := framework.NewNodeInfo()
	nodeInfo.SetNode(node)
	s := f.RunFilterPlugins(ctx, state, pod, nodeInfo)
	if s.IsSuccess() {
		return fwk.Success, ""
	}
	return s.Code(), s.Plugin() + ": " + s.Message()
}

// TestFilterLeavesNotReadyToTaints runs the filters that decide on a node's readiness and cordon side by side: the
// in-tree profile's (NodeUnschedulable, TaintToleration) and the berth-scheduler profile's (PodmanFit in
// NodeUnschedulable's place, TaintToleration), on every pair of the nodes and pods below, and checks that they
// decide the same: a node that is not Ready keeps off only the pods that do not tolerate the taint the node
// lifecycle controller gives it, and a cordoned node only those that do not tolerate
// node.kubernetes.io/unschedulable:NoSchedule.
func TestFilterLeavesNotReadyToTaints(t *testing.T) {
	ready := func(name string) *st.NodeWrapper { return nodeWrapper(name) }
	// The taints the node lifecycle controller sets on a node whose Ready condition is False or Unknown, and on a
	// cordoned node.
	taint := func(key string, effect corev1.TaintEffect) corev1.Taint {
		return corev1.Taint{Key: key, Effect: effect}
	}
	notReadyTaints := []corev1.Taint{taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule), taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)}
	unreachableTaints := []corev1.Taint{taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule), taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)}
	cordonTaint := taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	nodes := map[string]*corev1.Node{
		"Ready": ready("node1").Obj(),
		"Ready=False, tainted not-ready": ready("node1").Condition(corev1.NodeReady, corev1.ConditionFalse, "Podman has not answered", "PodmanUnreachable").
			Taints(notReadyTaints).Obj(),
		"Ready=Unknown, tainted unreachable": ready("node1").Condition(corev1.NodeReady, corev1.ConditionUnknown, "Kubelet stopped posting node status.", "NodeStatusUnknown").
			Taints(unreachableTaints).Obj(),
		// Before the node lifecycle controller has tainted it.
		"Ready=False, not tainted yet": ready("node1").Condition(corev1.NodeReady, corev1.ConditionFalse, "", "PodmanUnreachable").Obj(),
		"no Ready condition": func() *corev1.Node {
			n := ready("node1").Obj()
			n.Status.Conditions = nil
			return n
		}(),
		"cordoned, tainted unschedulable": ready("node1").Unschedulable(true).Taints([]corev1.Taint{cordonTaint}).Obj(),
		"cordoned, not tainted yet":       ready("node1").Unschedulable(true).Obj(),
		"cordoned and Ready=False": ready("node1").Unschedulable(true).Condition(corev1.NodeReady, corev1.ConditionFalse, "", "PodmanUnreachable").
			Taints(append([]corev1.Taint{cordonTaint}, notReadyTaints...)).Obj(),
	}
	tolerating := func(tols ...corev1.Toleration) *corev1.Pod {
		return st.MakePod().Name("p").Namespace("default").Tolerations(tols).Obj()
	}
	exists := func(key string, effect corev1.TaintEffect) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
	}
	seconds := int64(300)
	pods := map[string]*corev1.Pod{
		"no tolerations": tolerating(),
		// What the DefaultTolerationSeconds admission plugin gives every pod: they do not tolerate NoSchedule.
		"default NoExecute tolerations": tolerating(
			corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
			corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds}),
		"tolerates not-ready":                 tolerating(exists(corev1.TaintNodeNotReady, "")),
		"tolerates not-ready:NoSchedule":      tolerating(exists(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule)),
		"tolerates unreachable:NoSchedule":    tolerating(exists(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule)),
		"tolerates not-ready and unreachable": tolerating(exists(corev1.TaintNodeNotReady, ""), exists(corev1.TaintNodeUnreachable, "")),
		"tolerates unschedulable:NoSchedule":  tolerating(exists(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)),
		"tolerates unschedulable:NoExecute":   tolerating(exists(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoExecute)),
		"tolerates unschedulable, Equal with no value": tolerating(corev1.Toleration{
			Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpEqual, Effect: corev1.TaintEffectNoSchedule}),
		"tolerates unschedulable, Equal with a value": tolerating(corev1.Toleration{
			Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}),
		"tolerates unschedulable, Gt": tolerating(corev1.Toleration{
			Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpGt, Value: "1", Effect: corev1.TaintEffectNoSchedule}),
		"tolerates unschedulable and not-ready": tolerating(exists(corev1.TaintNodeUnschedulable, ""), exists(corev1.TaintNodeNotReady, "")),
		"tolerates everything":                  tolerating(corev1.Toleration{Operator: corev1.TolerationOpExists}),
	}

	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fts := feature.Features{}
	intree := filterProfile(ctx, t,
		tf.RegisterPluginAsExtensions(nodeunschedulable.Name, frameworkruntime.FactoryAdapter(fts, nodeunschedulable.New), "PreFilter", "Filter"))
	berth := filterProfile(ctx, t,
		tf.RegisterPluginAsExtensions(Name, func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			p, err := New(ctx, obj, h)
			if err == nil {
				p.(*PodmanFit).now = func() time.Time { return testNow }
			}
			return p, err
		}, "PreFilter", "Filter"))

	passed := map[string]int{}
	for nodeName, node := range nodes {
		for podName, pod := range pods {
			want, wantMsg := filterCode(ctx, t, intree, pod, node)
			got, gotMsg := filterCode(ctx, t, berth, pod, node)
			if got != want {
				t.Errorf("node %s, pod %s: berth-scheduler's filters say %v (%s), in-tree's %v (%s)", nodeName, podName, got, gotMsg, want, wantMsg)
			}
			if want == fwk.Success {
				passed[nodeName]++
			}
		}
	}
	// The pairs above are not all alike: each node keeps some pods off, or lets all of them on, as expected.
	for nodeName, want := range map[string]int{
		"Ready": len(pods), "Ready=False, not tainted yet": len(pods), "no Ready condition": len(pods),
		// Tolerating the NoSchedule taint alone is not enough: the NoExecute one also keeps new pods off.
		"Ready=False, tainted not-ready":     4, // not-ready, not-ready and unreachable, unschedulable and not-ready, everything
		"Ready=Unknown, tainted unreachable": 2, // not-ready and unreachable, everything
		"cordoned, tainted unschedulable":    4, // unschedulable:NoSchedule, Equal with no value, unschedulable and not-ready, everything
		"cordoned, not tainted yet":          4,
		"cordoned and Ready=False":           2, // unschedulable and not-ready, everything
	} {
		if passed[nodeName] != want {
			t.Errorf("node %s: in-tree's filters let %d of the pods on, want %d", nodeName, passed[nodeName], want)
		}
	}
}

// TestFilterClaims checks which claims keep a pod off a Podman node: those bound (or pre-bound) to a
// PersistentVolume Berth does not mount, and unbound ones a provisioner other than kubernetes.io/no-provisioner
// would make such a volume for. What VolumeBinding reports itself passes here.
func TestFilterClaims(t *testing.T) {
	pod := st.MakePod().Namespace("default").Name("web-0").UID("web-0").PVC("data").Obj()
	ephemeralPod := st.MakePod().Namespace("default").Name("web-0").UID("web-0").Volume(ephemeralVolume("scratch")).Obj()
	refused := func(why string) *fwk.Status {
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, ReasonVolumeClaims+": "+why)
	}
	preBound := func(src corev1.PersistentVolumeSource) []runtime.Object {
		objs := bound("data", src)
		objs[0].(*corev1.PersistentVolumeClaim).Status.Phase = corev1.ClaimPending
		return objs
	}
	block := func(src corev1.PersistentVolumeSource) []runtime.Object {
		objs := bound("data", src)
		objs[1].(*corev1.PersistentVolume).Spec.VolumeMode = ptr(corev1.PersistentVolumeBlock)
		return objs
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		objs []runtime.Object
		want *fwk.Status
	}{
		{name: "bound to a hostPath volume", pod: pod, objs: bound("data", hostPathSource)},
		{name: "bound to a local volume", pod: pod, objs: bound("data", localSource)},
		{name: "unbound, of a class of static local volumes", pod: pod, objs: []runtime.Object{claim("data", "local-disks"), noProvisionerClass}},
		{name: "ephemeral, of a class of static local volumes", pod: ephemeralPod,
			objs: append(ownedBy(ephemeralPod, claim("web-0-scratch", "local-disks")), noProvisionerClass)},
		{name: "ephemeral, bound to a local volume", pod: ephemeralPod, objs: ownedBy(ephemeralPod, bound("web-0-scratch", localSource)...)},

		{name: "bound to an nfs volume", pod: pod, objs: bound("data", nfsSource),
			want: refused("spec.volumes[data] (claim data: bound to PersistentVolume pv-data of type nfs)")},
		{name: "bound to a csi volume", pod: pod, objs: bound("data", csiSource),
			want: refused("spec.volumes[data] (claim data: bound to PersistentVolume pv-data of type csi (driver ebs.csi.aws.com))")},
		{name: "pre-bound to an nfs volume, not bound yet", pod: pod, objs: preBound(nfsSource),
			want: refused("spec.volumes[data] (claim data: bound to PersistentVolume pv-data of type nfs)")},
		{name: "bound to a local block volume", pod: pod, objs: block(localSource),
			want: refused("spec.volumes[data] (claim data: bound to PersistentVolume pv-data of volumeMode Block)")},
		{name: "unbound, of a class of a dynamic provisioner", pod: pod, objs: []runtime.Object{claim("data", "standard"), dynamicClass},
			want: refused("spec.volumes[data] (claim data: StorageClass standard provisions its volumes with ebs.csi.aws.com)")},
		{name: "ephemeral, of a class of a dynamic provisioner", pod: ephemeralPod,
			objs: append(ownedBy(ephemeralPod, claim("web-0-scratch", "standard")), dynamicClass),
			want: refused("spec.volumes[scratch] (ephemeral claim web-0-scratch: StorageClass standard provisions its volumes with ebs.csi.aws.com)")},

		// VolumeBinding's to report, or to wait out.
		{name: "missing claim", pod: pod},
		{name: "ephemeral volume's claim not made yet", pod: ephemeralPod, objs: []runtime.Object{dynamicClass}},
		{name: "ephemeral volume's claim of another pod", pod: ephemeralPod, objs: append(bound("web-0-scratch", nfsSource), dynamicClass)},
		{name: "bound to a missing volume", pod: pod, objs: bound("data", nfsSource)[:1]},
		{name: "unbound, of a missing class", pod: pod, objs: []runtime.Object{claim("data", "standard")}},
		{name: "unbound, without a class: the PV controller binds it", pod: pod, objs: []runtime.Object{claim("data", "")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			node := podmanNode("node1", 4<<30, 10*time.Second).Obj()
			f, _ := newFramework(ctx, t, nil, []*corev1.Node{node}, nil, tc.objs...)
			state := framework.NewCycleState()
			if _, s, _ := f.RunPreFilterPlugins(ctx, state, tc.pod); !s.IsSuccess() {
				t.Fatalf("PreFilter: %v", s)
			}
			nodeInfo := framework.NewNodeInfo()
			nodeInfo.SetNode(node)
			want := tc.want
			if want != nil {
				want = want.WithPlugin(Name)
			}
			if diff := cmp.Diff(want, f.RunFilterPlugins(ctx, state, tc.pod, nodeInfo)); diff != "" {
				t.Errorf("Filter status (-want,+got):\n%s", diff)
			}
		})
	}
}

// TestFilterRefusesTheClaimsTheProviderRefuses checks PodmanFit's refusal of claims against the provider's
// (podspec.PersistentVolumeProblem, which fails the pod on the node): a claim bound to a PersistentVolume that
// PodmanFit lets on a Podman node is one the provider mounts (on a node that allows its hostPath), and every
// volume the provider refuses keeps the pod off at scheduling: every source, mode, mount options and supplemental
// group annotation.
func TestFilterRefusesTheClaimsTheProviderRefuses(t *testing.T) {
	fs, block := corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock
	sources := map[string]corev1.PersistentVolumeSource{
		"hostPath": hostPathSource, "local": localSource, "nfs": nfsSource, "csi": csiSource,
		"iscsi":      {ISCSI: &corev1.ISCSIPersistentVolumeSource{TargetPortal: "192.0.2.1:3260", IQN: "iqn.2001-04.com.example:storage", Lun: 0}},
		"fc":         {FC: &corev1.FCVolumeSource{WWIDs: []string{"x"}}},
		"no source":  {},
		"flexVolume": {FlexVolume: &corev1.FlexPersistentVolumeSource{Driver: "example.com/flex"}},
		"cephfs":     {CephFS: &corev1.CephFSPersistentVolumeSource{Monitors: []string{"192.0.2.1"}}},
		"azureFile":  {AzureFile: &corev1.AzureFilePersistentVolumeSource{SecretName: "s", ShareName: "x"}},
		"gcePD":      {GCEPersistentDisk: &corev1.GCEPersistentDiskVolumeSource{PDName: "x"}},
		"awsEBS":     {AWSElasticBlockStore: &corev1.AWSElasticBlockStoreVolumeSource{VolumeID: "x"}},
		"portworx":   {PortworxVolume: &corev1.PortworxVolumeSource{VolumeID: "x"}},
		"glusterfs":  {Glusterfs: &corev1.GlusterfsPersistentVolumeSource{EndpointsName: "e", Path: "p"}},
		"rbd":        {RBD: &corev1.RBDPersistentVolumeSource{CephMonitors: []string{"m"}, RBDImage: "i"}},
		"vsphere":    {VsphereVolume: &corev1.VsphereVirtualDiskVolumeSource{VolumePath: "p"}},
		"storageos":  {StorageOS: &corev1.StorageOSPersistentVolumeSource{VolumeName: "v"}},
		"scaleIO":    {ScaleIO: &corev1.ScaleIOPersistentVolumeSource{Gateway: "g", System: "s"}},
		"quobyte":    {Quobyte: &corev1.QuobyteVolumeSource{Registry: "r", Volume: "v"}},
		"photon":     {PhotonPersistentDisk: &corev1.PhotonPersistentDiskVolumeSource{PdID: "x"}},
		"azureDisk":  {AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d", DataDiskURI: "u"}},
		"flocker":    {Flocker: &corev1.FlockerVolumeSource{DatasetName: "d"}},
		"cinder":     {Cinder: &corev1.CinderPersistentVolumeSource{VolumeID: "x"}},
	}
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	node := podmanNode("node1", 4<<30, 10*time.Second).Obj()
	// What a PersistentVolume may ask of its mount besides its source and mode.
	extras := map[string]func(*corev1.PersistentVolume){
		"nothing more":  func(*corev1.PersistentVolume) {},
		"mount options": func(pv *corev1.PersistentVolume) { pv.Spec.MountOptions = []string{"noatime"} },
		"mount options annotation": func(pv *corev1.PersistentVolume) {
			pv.Annotations = map[string]string{corev1.MountOptionAnnotation: "noatime"}
		},
		"supplemental group annotation": func(pv *corev1.PersistentVolume) {
			pv.Annotations = map[string]string{persistentvolume.GIDAnnotation: "1234"}
		},
	}
	for name, src := range sources {
		for _, mode := range []*corev1.PersistentVolumeMode{nil, &fs, &block} {
			for extra, edit := range extras {
				name := name + " (" + extra + ")"
				objs := bound("data", src)
				pv := objs[1].(*corev1.PersistentVolume)
				pv.Spec.VolumeMode = mode
				edit(pv)
				f, _ := newFramework(ctx, t, nil, []*corev1.Node{node}, nil, objs...)
				pod := st.MakePod().Namespace("default").Name("p").Container("busybox").PVC("data").Obj()
				if rejection := podspec.Admit(pod, podspec.Policy{}); rejection != nil {
					t.Fatalf("%s: the provider refuses the pod before its volumes are mounted: %+v", name, rejection)
				}
				problem := podspec.PersistentVolumeProblem(pod, &pod.Spec.Volumes[0], pv, podspec.Policy{AllowedHostPaths: []string{"/"}})
				state := framework.NewCycleState()
				if _, s, _ := f.RunPreFilterPlugins(ctx, state, pod); !s.IsSuccess() {
					t.Fatalf("%s: PreFilter: %v", name, s)
				}
				nodeInfo := framework.NewNodeInfo()
				nodeInfo.SetNode(node)
				s := f.RunFilterPlugins(ctx, state, pod, nodeInfo)
				if filtered := !s.IsSuccess(); filtered != (problem != "") {
					t.Errorf("%s volume of mode %v: PodmanFit says %v, the provider %q", name, ptrString(mode), s, problem)
				} else if filtered && s.Code() != fwk.UnschedulableAndUnresolvable {
					t.Errorf("%s volume of mode %v: PodmanFit says %v, want UnschedulableAndUnresolvable", name, ptrString(mode), s)
				}
			}
		}
	}
	// Every source a PersistentVolume can have is above, so that a new one cannot pass unseen.
	if n := reflect.TypeFor[corev1.PersistentVolumeSource]().NumField(); len(sources) != n+1 {
		t.Errorf("%d PersistentVolume sources tested, corev1.PersistentVolumeSource has %d", len(sources)-1, n)
	}
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		name     string
		prefill  bool
		nodeInfo func() fwk.NodeInfo
		want     *fwk.Status
	}{
		{
			name:     "node missing from the NodeInfo",
			prefill:  true,
			nodeInfo: func() fwk.NodeInfo { return framework.NewNodeInfo() },
			want:     fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "node not found"),
		},
		{
			name: "Filter without PreFilter",
			nodeInfo: func() fwk.NodeInfo {
				ni := framework.NewNodeInfo()
				ni.SetNode(nodeWrapper("node1").Obj())
				return ni
			},
			want: fwk.AsStatus(fwk.ErrNotFound),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			p, err := New(ctx, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			pl := p.(*PodmanFit)
			pod := st.MakePod().Name("p").Req(map[corev1.ResourceName]string{corev1.ResourceCPU: "1"}).Obj()
			state := framework.NewCycleState()
			if tc.prefill {
				if _, s := pl.PreFilter(ctx, state, pod, nil); !s.IsSuccess() {
					t.Fatal(s)
				}
			}
			got := pl.Filter(ctx, state, pod, tc.nodeInfo())
			if got.Code() != tc.want.Code() {
				t.Errorf("code = %v, want %v (%v)", got.Code(), tc.want.Code(), got)
			}
			if tc.want.Code() == fwk.Error {
				if !strings.Contains(got.Message(), `reading "PreFilterPodmanFit" from cycle state`) {
					t.Errorf("message = %q, want it to name the missing state", got.Message())
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("status (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		args     runtime.Object
		want     config.PodmanFitArgs
		wantErrs []string
	}{
		{
			name: "nil args give the defaults",
			want: config.PodmanFitArgs{ObservedMemory: true, MaxObservationAge: metav1.Duration{Duration: 30 * time.Second}},
		},
		{
			name: "configured args are kept",
			args: &config.PodmanFitArgs{ObservedMemory: false, MaxObservationAge: metav1.Duration{Duration: time.Minute}},
			want: config.PodmanFitArgs{ObservedMemory: false, MaxObservationAge: metav1.Duration{Duration: time.Minute}},
		},
		{
			name:     "args of another plugin",
			args:     &config.PodmanScoreArgs{},
			wantErrs: []string{"want args to be of type PodmanFitArgs, got *config.PodmanScoreArgs"},
		},
		{
			name:     "unknown args",
			args:     &runtime.Unknown{},
			wantErrs: []string{"want args to be of type PodmanFitArgs, got *runtime.Unknown"},
		},
		{
			name:     "invalid args",
			args:     &config.PodmanFitArgs{ObservedMemory: true},
			wantErrs: []string{`maxObservationAge: Invalid value: "0s": must be greater than 0`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			p, err := New(ctx, tc.args, nil)
			if len(tc.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("New succeeded, want an error containing %q", tc.wantErrs)
				}
				for _, w := range tc.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			pl := p.(*PodmanFit)
			if diff := cmp.Diff(tc.want, pl.args); diff != "" {
				t.Errorf("args (-want,+got):\n%s", diff)
			}
			if pl.Name() != "PodmanFit" {
				t.Errorf("Name() = %q", pl.Name())
			}
			if pl.PreFilterExtensions() != nil {
				t.Errorf("PreFilterExtensions() is not nil")
			}
		})
	}
}

// TestNewThroughFramework checks that the framework hands PodmanFit the scheme's defaulted args.
func TestNewThroughFramework(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	_, pl := newFramework(ctx, t, nil, nil, nil)
	if diff := cmp.Diff(DefaultArgs(), pl.args); diff != "" {
		t.Errorf("args (-want,+got):\n%s", diff)
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		name string
		n    int64
		want string
	}{
		{name: "zero", n: 0, want: "0"},
		{name: "less than a Mi, as the quantity prints it", n: 1000, want: "1k"},
		{name: "whole Mi", n: 300 << 20, want: "300Mi"},
		{name: "whole Gi", n: 4 << 30, want: "4Gi"},
		{name: "not a whole Mi, rounded down", n: 1_000_000_000, want: "953Mi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := bytes(tc.n); got != tc.want {
				t.Errorf("bytes(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}
