package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAbsurdButValidPods runs pods that the apiserver accepts but few people write: hundreds of environment
// variables, very long arguments, 50 containers, configMaps near the 1 MiB limit. Each works, or — an argument
// longer than the kernel takes — fails with a clear reason.
func TestAbsurdButValidPods(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	never := func(name string, containers ...corev1.Container) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: containers}}
	}
	sh := func(name, script string, args ...string) corev1.Container {
		return corev1.Container{Name: name, Image: busybox, Command: append([]string{"sh", "-c", script, "sh"}, args...)}
	}

	// 300 variables of 200 bytes each.
	env := sh("c", "env | grep -c '^V_'; echo ${#V_299}")
	for i := range 300 {
		env.Env = append(env.Env, corev1.EnvVar{Name: fmt.Sprintf("V_%d", i), Value: strings.Repeat(string(rune('a'+i%26)), 200)})
	}
	// 2,000 arguments, one of them 100,000 bytes (below the kernel's 128 KiB per argument).
	long := []string{strings.Repeat("x", 100_000)}
	for i := range 1999 {
		long = append(long, fmt.Sprintf("arg-%04d-%s", i, strings.Repeat("y", 40)))
	}
	// One argument of 200,000 bytes: more than execve takes. The runtime starts the container, whose exec fails
	// (runc says why on the container's stderr), as with any runc under a kubelet; the log tail becomes the message.
	tooLongArg := sh("c", "echo never", strings.Repeat("z", 200_000))
	tooLongArg.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	var fifty []corev1.Container
	for i := range 50 {
		fifty = append(fifty, sh(fmt.Sprintf("c%02d", i), fmt.Sprintf("echo c%02d", i)))
	}
	// 90 keys of 10 KiB (900 KiB) mounted as files, and 500 keys taken as the environment.
	big := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Data: map[string]string{}}
	for i := range 90 {
		big.Data[fmt.Sprintf("file-%02d", i)] = strings.Repeat(string(rune('A'+i%26)), 10*1024)
	}
	many := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "many"}, Data: map[string]string{}}
	for i := range 500 {
		many.Data[fmt.Sprintf("K_%03d", i)] = fmt.Sprintf("value-%d", i)
	}
	for _, cm := range []*corev1.ConfigMap{big, many} {
		if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create configMap %s: %v", cm.Name, err)
		}
	}
	cfg := sh("c", "cat /cfg/* | wc -c; ls /cfg | wc -l; env | grep -c '^K_'")
	cfg.VolumeMounts = []corev1.VolumeMount{{Name: "big", MountPath: "/cfg"}}
	cfg.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "many"}}}}
	cfgPod := never("configmaps", cfg)
	cfgPod.Spec.Volumes = []corev1.Volume{{Name: "big", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "big"}}}}}

	pods := []struct {
		pod  *corev1.Pod
		logs map[string]string // container → its whole output
	}{
		{never("env", env), map[string]string{"c": "300\n200\n"}},
		{never("args", sh("c", "echo $# ${#1} ${2000}", long...)), map[string]string{"c": fmt.Sprintf("2000 100000 %s\n", long[1999])}},
		{never("fifty", fifty...), map[string]string{"c00": "c00\n", "c25": "c25\n", "c49": "c49\n"}},
		{cfgPod, map[string]string{"c": fmt.Sprintf("%d\n90\n500\n", 90*10*1024)}},
	}
	for _, tc := range append(pods, struct {
		pod  *corev1.Pod
		logs map[string]string
	}{pod: never("too-long", tooLongArg)}) {
		if _, err := client.CoreV1().Pods(ns).Create(ctx, tc.pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod %s: %v", tc.pod.Name, err)
		}
	}
	for _, tc := range pods {
		_, p := watchPhases(t, ns, tc.pod.Name, 4*time.Minute, corev1.PodSucceeded, corev1.PodFailed)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s: %s", tc.pod.Name, describeStatus(p))
			continue
		}
		if n := len(p.Status.ContainerStatuses); n != len(tc.pod.Spec.Containers) {
			t.Errorf("pod %s: %d container statuses for %d containers", tc.pod.Name, n, len(tc.pod.Spec.Containers))
		}
		for c, want := range tc.logs {
			raw, err := client.CoreV1().Pods(ns).GetLogs(tc.pod.Name, &corev1.PodLogOptions{Container: c}).DoRaw(ctx)
			if err != nil || string(raw) != want {
				t.Errorf("pod %s container %s: logs %q, %v; want %q", tc.pod.Name, c, raw, err, want)
			}
		}
	}

	// The kernel refuses an argument over 128 KiB: the container's exec fails, its exit says so.
	_, p := watchPhases(t, ns, "too-long", 2*time.Minute, corev1.PodSucceeded, corev1.PodFailed)
	st := p.Status.ContainerStatuses
	if p.Status.Phase != corev1.PodFailed || len(st) != 1 || st[0].State.Terminated == nil || st[0].State.Terminated.ExitCode == 0 ||
		st[0].State.Terminated.Reason != "Error" || !strings.Contains(st[0].State.Terminated.Message, "argument list too long") {
		t.Errorf("too-long: %s; want Failed, an Error whose message (from the log) says \"argument list too long\"", describeStatus(p))
	}
}
