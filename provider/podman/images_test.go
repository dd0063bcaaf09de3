package podman

import (
	"syscall"
	"testing"
)

func TestQualified(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"busybox", "docker.io/library/busybox:latest"},
		{"busybox:1.35", "docker.io/library/busybox:1.35"},
		{"org/app:v1", "docker.io/org/app:v1"},
		{"docker.io/library/busybox", "docker.io/library/busybox:latest"},
		{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"},
		{"localhost/berth/busybox:1.35", "localhost/berth/busybox:1.35"},
		{"127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"},
		{"busybox@sha256:" + sha, "docker.io/library/busybox@sha256:" + sha},
		{"busybox:1.35@sha256:" + sha, "docker.io/library/busybox:1.35@sha256:" + sha},
		{"Not A Name", "Not A Name"},
	}
	for _, tc := range tests {
		if got := Qualified(tc.ref); got != tc.want {
			t.Errorf("Qualified(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestStopSignal(t *testing.T) {
	tests := []struct {
		name    string
		want    syscall.Signal
		wantErr bool
	}{
		{"SIGTERM", syscall.SIGTERM, false},
		{"SIGUSR1", syscall.SIGUSR1, false},
		{"SIGRTMIN+1", 35, false}, // glibc's SIGRTMIN is 34, as Podman and containerd count
		{"SIGRTMAX", 64, false},
		{"SIGNOPE", 0, true},
	}
	for _, tc := range tests {
		got, err := stopSignal(tc.name)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("stopSignal(%q) = %d, %v; want %d (error %t)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}
