package podmanbind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
	st "k8s.io/kubernetes/pkg/scheduler/testing"
	tf "k8s.io/kubernetes/pkg/scheduler/testing/framework"

	"github.com/berth-dev/berth/internal/wellknown"
	"github.com/berth-dev/berth/plugins/apis/config"
	"github.com/berth-dev/berth/plugins/internal/decision"
)

func init() {
	metrics.Register()
}

func scores(nodes map[string]decision.Breakdown) *decision.Scores {
	s := &decision.Scores{Candidates: len(nodes)}
	for name, bd := range nodes {
		s.Names, s.Breakdowns = append(s.Names, name), append(s.Breakdowns, bd)
	}
	s.Weights.Spread, s.Weights.Load, s.Weights.Image = 3, 2, 1
	return s
}

func TestBind(t *testing.T) {
	pod := st.MakePod().Name("web-7d9f").Namespace("shop").UID("pod-uid-1").SchedulerName("berth-scheduler").Obj()
	nodeA := st.MakeNode().Name("node-a").Obj()
	twoNodes := scores(map[string]decision.Breakdown{
		"node-a": {Total: 73, Spread: 100, Load: 81, Image: 0},
		"node-b": {Total: 26, Spread: 0, Load: 78, Image: 0},
	})
	conflict := apierrors.NewConflict(corev1.Resource("pods"), pod.Name, errors.New(`pod web-7d9f is already assigned to node "node-b"`))

	tests := []struct {
		name          string
		nodeInInform  bool
		noInformers   bool
		state         *decision.Scores
		injectErr     error
		wantBinding   bool
		wantScoreJSON string
		wantCode      fwk.Code
		wantMessage   string // exact, for rejections
		wantContains  string // for errors
	}{
		{
			name:          "binds with the breakdown of the chosen node",
			nodeInInform:  true,
			state:         twoNodes,
			wantBinding:   true,
			wantScoreJSON: `{"node":"node-a","score":{"total":73,"spread":100,"load":81,"image":0},"weights":{"spread":3,"load":2,"image":1},"candidates":2}`,
		},
		{
			name:          "binds with a note when the pod was not scored",
			nodeInInform:  true,
			wantBinding:   true,
			wantScoreJSON: `{"node":"node-a","note":"not scored: the only feasible node"}`,
		},
		{
			name:         "binds with a note when the chosen node has no breakdown",
			nodeInInform: true,
			state: scores(map[string]decision.Breakdown{
				"node-b": {Total: 26, Spread: 0, Load: 78, Image: 0},
			}),
			wantBinding:   true,
			wantScoreJSON: `{"node":"node-a","note":"not scored: the only feasible node"}`,
		},
		{
			name:          "binds without checking the node when there is no informer factory",
			noInformers:   true,
			state:         twoNodes,
			wantBinding:   true,
			wantScoreJSON: `{"node":"node-a","score":{"total":73,"spread":100,"load":81,"image":0},"weights":{"spread":3,"load":2,"image":1},"candidates":2}`,
		},
		{
			name:         "pod deleted meanwhile",
			nodeInInform: true,
			state:        twoNodes,
			injectErr:    apierrors.NewNotFound(corev1.Resource("pods"), pod.Name),
			wantCode:     fwk.UnschedulableAndUnresolvable,
			wantMessage:  ReasonPodGone,
		},
		{
			name:         "pod bound meanwhile",
			nodeInInform: true,
			state:        twoNodes,
			injectErr:    conflict,
			wantCode:     fwk.UnschedulableAndUnresolvable,
			wantMessage:  fmt.Sprintf("pod is already bound: %v", conflict),
		},
		{
			name:         "other API error",
			nodeInInform: true,
			state:        twoNodes,
			injectErr:    apierrors.NewInternalError(errors.New("etcdserver: request timed out")),
			wantCode:     fwk.Error,
			wantContains: "bind pod shop/web-7d9f to node node-a: Internal error occurred: etcdserver: request timed out",
		},
		{
			name:         "connection error",
			nodeInInform: true,
			injectErr:    errors.New("connection refused"),
			wantCode:     fwk.Error,
			wantContains: "bind pod shop/web-7d9f to node node-a: connection refused",
		},
		{
			name:        "node gone from the informer",
			state:       twoNodes,
			wantCode:    fwk.UnschedulableAndUnresolvable,
			wantMessage: "node no longer exists: node-a",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()

			client := fake.NewClientset(pod)
			var gotBinding *corev1.Binding
			calls := 0
			client.PrependReactor("create", "pods/binding", func(action clienttesting.Action) (bool, runtime.Object, error) {
				calls++
				if tc.injectErr != nil {
					return true, nil, tc.injectErr
				}
				gotBinding = action.(clienttesting.CreateAction).GetObject().(*corev1.Binding)
				return true, gotBinding, nil
			})
			opts := []frameworkruntime.Option{frameworkruntime.WithClientSet(client)}
			if !tc.noInformers {
				factory := informers.NewSharedInformerFactory(client, 0)
				if tc.nodeInInform {
					if err := factory.Core().V1().Nodes().Informer().GetIndexer().Add(nodeA); err != nil {
						t.Fatal(err)
					}
				}
				opts = append(opts, frameworkruntime.WithInformerFactory(factory))
			}
			f, err := tf.NewFramework(ctx,
				[]tf.RegisterPluginFunc{
					tf.RegisterQueueSortPlugin(queuesort.Name, queuesort.New),
					tf.RegisterBindPlugin(Name, New),
				},
				"berth-scheduler", opts...)
			if err != nil {
				t.Fatalf("creating framework: %v", err)
			}

			state := framework.NewCycleState()
			if tc.state != nil {
				state.Write(decision.StateKey, tc.state)
			}
			status := f.RunBindPlugins(ctx, state, pod, "node-a")

			if got := status.Code(); got != tc.wantCode {
				t.Fatalf("status code = %v, want %v (%v)", got, tc.wantCode, status)
			}
			switch {
			case tc.wantMessage != "":
				if diff := cmp.Diff(fwk.NewStatus(tc.wantCode, tc.wantMessage).WithPlugin(Name), status); diff != "" {
					t.Errorf("status (-want,+got):\n%s", diff)
				}
			case tc.wantContains != "":
				if !strings.Contains(status.Message(), tc.wantContains) {
					t.Errorf("status message %q does not contain %q", status.Message(), tc.wantContains)
				}
			}
			if strings.HasPrefix(tc.wantMessage, ReasonNodeGone) && calls != 0 {
				t.Errorf("the binding was attempted %d times for a node that is gone", calls)
			}
			if !tc.wantBinding {
				return
			}
			want := &corev1.Binding{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: "shop", Name: "web-7d9f", UID: "pod-uid-1",
					Annotations: map[string]string{
						wellknown.AnnotationScheduledNode: "node-a",
						wellknown.AnnotationScore:         tc.wantScoreJSON,
					},
				},
				Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"},
			}
			if diff := cmp.Diff(want, gotBinding); diff != "" {
				t.Errorf("binding (-want,+got):\n%s", diff)
			}
			if calls != 1 {
				t.Errorf("%d binding calls, want 1", calls)
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(gotBinding.Annotations[wellknown.AnnotationScore]), &rec); err != nil {
				t.Errorf("score annotation is not JSON: %v", err)
			}
		})
	}
}

func TestAnnotations(t *testing.T) {
	s := scores(map[string]decision.Breakdown{"node-a": {Total: 50, Spread: 50, Load: 50, Image: 50}})
	tests := []struct {
		name string
		data any
		node string
		want string
	}{
		{
			name: "breakdown",
			data: s,
			node: "node-a",
			want: `{"node":"node-a","score":{"total":50,"spread":50,"load":50,"image":50},"weights":{"spread":3,"load":2,"image":1},"candidates":1}`,
		},
		{
			name: "state of another type under the key",
			data: &decision.Breakdown{},
			node: "node-a",
			want: `{"node":"node-a","note":"not scored: the only feasible node"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			if sc, ok := tc.data.(*decision.Scores); ok {
				state.Write(decision.StateKey, sc)
			} else {
				state.Write(decision.StateKey, cloneable{tc.data})
			}
			got := Annotations(state, tc.node)
			want := map[string]string{wellknown.AnnotationScheduledNode: tc.node, wellknown.AnnotationScore: tc.want}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("annotations (-want,+got):\n%s", diff)
			}
		})
	}
}

// cloneable wraps any value as state data.
type cloneable struct{ v any }

func (c cloneable) Clone() fwk.StateData { return c }

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		args    runtime.Object
		wantErr string
	}{
		{name: "no args"},
		{name: "unknown args, as the framework passes an empty pluginConfig", args: &runtime.Unknown{}},
		{name: "typed args", args: &config.PodmanFitArgs{}, wantErr: "PodmanBind takes no arguments, got *config.PodmanFitArgs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			p, err := New(ctx, tc.args, nil)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("New error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if p.Name() != "PodmanBind" {
				t.Errorf("Name() = %q", p.Name())
			}
		})
	}
}
