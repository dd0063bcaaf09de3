package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The tests of this file show claims of the README that no other e2e test exercised: subPathExpr, readinessGates,
// httpGet and sleep lifecycle hooks with FailedPreStopHook, the crash-loop back-off's cap, and service account
// tokens renewed in running containers.

// tokenLeeway is the leeway the apiserver gives a service account token's times (go-jose's jwt.DefaultLeeway, which
// k8s.io/kubernetes/pkg/serviceaccount validates with).
const tokenLeeway = time.Minute

// restartPeriodCap is node 0's --max-container-restart-period (the kubelet's default is 300 s).
const restartPeriodCap = 20 * time.Second

// TestSubPathExpr: a volume mount's subPathExpr expands the container's environment (here the pod's name, from
// the downward API) into the folder of the volume it mounts.
func TestSubPathExpr(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: subpath}
spec:
  restartPolicy: Never
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: main
    image: %s
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    volumeMounts:
    - {name: data, mountPath: /out, subPathExpr: "$(POD_NAME)"}
    - {name: data, mountPath: /all}
    command: ["sh", "-c", "echo hi > /out/f && test \"$(cat /all/subpath/f)\" = hi"]
`, busybox), "apply", "-n", ns, "-f", "-")
	if _, p := watchPhases(t, ns, "subpath", time.Minute, corev1.PodSucceeded, corev1.PodFailed); p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("the file written under subPathExpr $(POD_NAME) is not in the volume's folder subpath: %s", describeStatus(p))
	}
}

// TestReadinessGates: a pod with a readiness gate is not Ready while the gate's condition is missing, even with
// its containers ready, and turns Ready once something else sets the condition True; the node keeps the condition.
func TestReadinessGates(t *testing.T) {
	ns := namespace(t)
	const gate = "berth.dev/gate"
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: gated}
spec:
  readinessGates: [{conditionType: %q}]
  containers:
  - {name: main, image: %s, command: ["sleep", "3600"]}
`, gate, busybox), "apply", "-n", ns, "-f", "-")
	p := waitPod(t, ns, "gated", time.Minute, "containers ready", func(p *corev1.Pod) bool {
		return condition(p, corev1.ContainersReady) == corev1.ConditionTrue
	})
	if condition(p, corev1.PodReady) != corev1.ConditionFalse {
		t.Errorf("pod with its readiness gate unset: Ready %s, want False; %v", condition(p, corev1.PodReady), p.Status.Conditions)
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: gate, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set the gate's condition: %v", err)
	}
	waitPod(t, ns, "gated", time.Minute, "Ready with its gate True", func(p *corev1.Pod) bool {
		return condition(p, corev1.PodReady) == corev1.ConditionTrue && condition(p, gate) == corev1.ConditionTrue
	})
}

// TestLifecycleHooks: a postStart httpGet hook reaches a server of the pod once the container starts; at deletion a
// preStop httpGet hook reaches the same server, which its own preStop sleep keeps serving meanwhile, and a failing
// preStop exec hook gives FailedPreStopHook. The server's requests are logged to a folder of the machine, which
// outlives the pod.
func TestLifecycleHooks(t *testing.T) {
	ns := namespace(t)
	dir := filepath.Join(testCluster.Config().StateDir, "host", ns+"-hooks")
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: host, hostPath: {path: %[2]s, type: DirectoryOrCreate}}]
  containers:
  - name: server
    image: %[1]s
    command: ["sh", "-c", "mkdir -p /www && touch /www/poststart /www/prestop && exec httpd -f -vv -p 8080 -h /www 2>>/host/server.log"]
    volumeMounts: [{name: host, mountPath: /host}]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
    lifecycle: {preStop: {sleep: {seconds: 3}}}
  - name: app
    image: %[1]s
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle:
      postStart: {httpGet: {path: /poststart, port: 8080}}
      preStop: {httpGet: {path: /prestop, port: 8080}}
  - name: failing
    image: %[1]s
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle: {preStop: {exec: {command: ["sh", "-c", "exit 3"]}}}
`, busybox, dir), "apply", "-n", ns, "-f", "-")
	t.Cleanup(func() { os.RemoveAll(dir) })
	waitPod(t, ns, "hooks", time.Minute, "Ready", func(p *corev1.Pod) bool { return condition(p, corev1.PodReady) == corev1.ConditionTrue })
	log := func() string { b, _ := os.ReadFile(filepath.Join(dir, "server.log")); return string(b) }
	if !strings.Contains(log(), "url:/poststart") {
		t.Errorf("the postStart httpGet hook did not reach the server; its log:\n%s", log())
	}
	deleteAndWatch(t, ns, "hooks", 2*time.Minute)
	if !strings.Contains(log(), "url:/prestop") {
		t.Errorf("the preStop httpGet hook did not reach the server (held by its preStop sleep); its log:\n%s", log())
	}
	waitEvent(t, ns, "hooks", "FailedPreStopHook", "", 30*time.Second)
}

// TestCrashLoopBackOffCap: a crashing container's back-off starts at 10 s and doubles up to the node's
// --max-container-restart-period (node 0: 20 s), as under the kubelet's crashLoopBackOff.maxContainerRestartPeriod;
// the CrashLoopBackOff message names each back-off.
func TestCrashLoopBackOffCap(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  nodeName: %s
  containers:
  - {name: main, image: %s, command: ["false"]}
`, testCluster.NodeNames()[0], busybox), "apply", "-n", ns, "-f", "-")
	for restarts, want := range []time.Duration{10 * time.Second, restartPeriodCap, restartPeriodCap} {
		p := waitPod(t, ns, "crash", 2*time.Minute, fmt.Sprintf("CrashLoopBackOff after %d restarts", restarts), func(p *corev1.Pod) bool {
			st := p.Status.ContainerStatuses
			return len(st) == 1 && int(st[0].RestartCount) == restarts && st[0].State.Waiting != nil && st[0].State.Waiting.Reason == "CrashLoopBackOff"
		})
		if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.HasPrefix(msg, fmt.Sprintf("back-off %s restarting failed container=main pod=crash_%s(", want, ns)) {
			t.Errorf("after %d restarts: waiting message %q, want back-off %s", restarts, msg, want)
		}
	}
}

// TestServiceAccountTokenRenewal: a projected service account token in a running container is renewed as the
// kubelet's token manager renews it (once 80% of its life has passed: here after about 480 s of a 600 s token),
// and an in-cluster client in the container works with the new token after the first has expired, when the
// apiserver refuses the first. The pod starts when the test does; the test then waits in parallel with the rest
// of the suite (t.Parallel), so it costs the suite no time; run alone, it takes about 11 minutes.
func TestServiceAccountTokenRenewal(t *testing.T) {
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: renew}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  volumes:
  - name: kubectl
    hostPath: {path: %s, type: File}
  - name: tokens
    projected:
      sources: [{serviceAccountToken: {path: token, expirationSeconds: 600}}]
  containers:
  - name: main
    image: %s
    command: ["sleep", "3600"]
    volumeMounts:
    - {name: kubectl, mountPath: /kubectl, readOnly: true}
    - {name: tokens, mountPath: /tokens}
`, testCluster.NodeNames()[1], filepath.Join(binDir, "kubectl"), busybox), "apply", "-n", ns, "-f", "-")
	waitPod(t, ns, "renew", 2*time.Minute, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	readToken := func() (string, error) {
		out, err := kubectlErr("", "exec", "-n", ns, "renew", "--", "cat", "/tokens/token")
		if err != nil {
			return "", fmt.Errorf("read the token: %w: %s", err, out)
		}
		return out, nil
	}
	first, err := readToken()
	if err != nil {
		t.Fatal(err)
	}
	expires, err := tokenExpiry(first)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first token expires at %s; waiting in parallel with the other tests", expires.Format(time.RFC3339))
	t.Parallel()

	// The token manager renews after 80% of 600 s (plus up to 10 s of jitter); the volume is rewritten within its
	// 10 s resync. Wait until the apiserver refuses the first token (its expiry, plus the minute of leeway the
	// apiserver gives a JSON web token's times), then for the file to hold another.
	var renewed string
	err = wait.PollUntilContextTimeout(context.Background(), 10*time.Second, 15*time.Minute, true, func(context.Context) (bool, error) {
		if time.Now().Before(expires.Add(tokenLeeway + 5*time.Second)) {
			return false, nil
		}
		tok, err := readToken()
		if err != nil {
			return false, err
		}
		renewed = tok
		return tok != first, nil
	})
	if err != nil {
		t.Fatalf("the token file still holds the first token after it expired at %s: %v", expires.Format(time.RFC3339), err)
	}
	if out, err := inPodWhoami(ns, "renew", renewed); err != nil || out != "system:serviceaccount:"+ns+":default" {
		t.Errorf("in-cluster client with the renewed token: %v: %q", err, out)
	}
	if out, err := inPodWhoami(ns, "renew", first); err == nil {
		t.Errorf("the apiserver still accepts the first token after its expiry: %q", out)
	}
}

// inPodWhoami runs `kubectl auth whoami` in pod's container with token, against the kubernetes Service's address
// that the container's environment names, and returns the user name the apiserver saw.
func inPodWhoami(ns, pod, token string) (string, error) {
	script := `/kubectl --server="https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT" --token="$1" ` +
		`--certificate-authority=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt auth whoami -o jsonpath='{.status.userInfo.username}'`
	return kubectlErr("", "exec", "-n", ns, pod, "--", "sh", "-c", script, "sh", token)
}

// tokenExpiry reads the exp claim of a JSON web token.
func tokenExpiry(token string) (time.Time, error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return time.Time{}, fmt.Errorf("not a JSON web token: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, fmt.Errorf("token payload: %w", err)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == 0 {
		return time.Time{}, fmt.Errorf("token payload %s: no exp claim (%v)", payload, err)
	}
	return time.Unix(claims.Exp, 0), nil
}
