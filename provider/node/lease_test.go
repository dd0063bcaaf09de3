package node

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
)

// drive runs f while time passes on fc: whenever something waits on fc (a watch, a poll, a back-off), fc steps by
// step, until f returns. The claims' waits are fake time, so no test waits for them; the real deadline is only a
// safety net against a claim that never returns.
func drive(t *testing.T, fc *testingclock.FakeClock, step time.Duration, f func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-errc:
			return err
		case <-deadline:
			t.Fatalf("no answer after 30 s (fake time %s)", fc.Now())
		case <-time.After(time.Millisecond):
			if fc.HasWaiters() {
				fc.Step(step)
			}
		}
	}
}

func testLease(holder string, renewed time.Time) *coordinationv1.Lease {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: new(int32(40))}}
	if holder != "" {
		l.Spec.HolderIdentity = &holder
	}
	if !renewed.IsZero() {
		l.Spec.RenewTime = &metav1.MicroTime{Time: renewed}
	}
	return l
}

func TestLeaseClaim(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	const other = "berth-kubelet host=h pidns=1 pid=42 id=aaaa"
	tests := []struct {
		name    string
		lease   *coordinationv1.Lease
		gone    func(string) (bool, bool)
		wantErr string
		// watched: the lease is taken over once the watch has ended without a renewal.
		watched bool
	}{
		{name: "no lease yet"},
		{name: "released", lease: testLease("", now.Add(-time.Second))},
		{name: "stale after a crash", lease: testLease(other, now.Add(-41*time.Second))},
		{name: "fresh, holder known to have ended", lease: testLease(other, now.Add(-3*time.Second)), gone: func(string) (bool, bool) { return true, true }},
		{name: "fresh, holder known to run", lease: testLease(other, now.Add(-3*time.Second)), gone: func(string) (bool, bool) { return false, true },
			wantErr: `node "node-a" is already served by another berth-kubelet (lease kube-node-lease/node-a held by "` + other + `", renewed 3s ago); stop it first or choose another --node-name`},
		{name: "fresh, holder unknown and not renewed while watched", lease: testLease("node-a", now.Add(-3*time.Second)), watched: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			if tc.lease != nil {
				client = fake.NewClientset(tc.lease)
			}
			c := NewLeaseClaim(client, "node-a", "me")
			fc := testingclock.NewFakeClock(now)
			c.clock = fc
			c.gone = func(string) (bool, bool) { return false, false }
			if tc.gone != nil {
				c.gone = tc.gone
			}
			err := drive(t, fc, c.poll, func() error { return c.claim(context.Background()) })
			got, gerr := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), "node-a", metav1.GetOptions{})
			if gerr != nil {
				t.Fatal(gerr)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("claim: %v\nwant %s", err, tc.wantErr)
				}
				if *got.Spec.HolderIdentity != *tc.lease.Spec.HolderIdentity || !got.Spec.RenewTime.Equal(tc.lease.Spec.RenewTime) {
					t.Errorf("a refused claim changed the lease: %+v", got.Spec)
				}
				return
			}
			if err != nil {
				t.Fatalf("claim: %v", err)
			}
			if got.Spec.HolderIdentity == nil || *got.Spec.HolderIdentity != "me" || got.Spec.RenewTime == nil ||
				got.Spec.LeaseDurationSeconds == nil || *got.Spec.LeaseDurationSeconds != 40 {
				t.Fatalf("lease after the claim: %+v", got.Spec)
			}
			// Claimed at once, or only once the watch has ended (fake time).
			waited := got.Spec.RenewTime.Sub(now)
			if !tc.watched && waited != 0 {
				t.Errorf("claimed %s after the first read, want at once", waited)
			}
			if tc.watched && waited < c.watch {
				t.Errorf("claimed %s after the first read, before the watch (%s) ended", waited, c.watch)
			}
		})
	}
}

// TestLeaseClaimWatchesRenewal checks that a fresh lease whose holder's liveness cannot be told is refused once
// it is renewed while watched, at the first poll that sees the renewal rather than at the end of the watch.
func TestLeaseClaimWatchesRenewal(t *testing.T) {
	fc := testingclock.NewFakeClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	client := fake.NewClientset(testLease("node-a", fc.Now().Add(-3*time.Second)))
	c := NewLeaseClaim(client, "node-a", "me")
	c.clock = fc
	c.gone = func(string) (bool, bool) { return false, false }
	if c.poll >= c.watch {
		t.Fatalf("poll %s, watch %s: one poll must not end the watch", c.poll, c.watch)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.claim(context.Background()) }()
	// The claim has read the lease and watches it once its poll ticker and the watch's deadline wait on the clock.
	for deadline := time.Now().Add(30 * time.Second); fc.Waiters() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the claim does not watch the lease (%d waiters on the clock)", fc.Waiters())
		}
	}
	if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(context.Background(), testLease("node-a", fc.Now()), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// One poll later, with the watch far from over (the clock never reaches its end), the claim is refused.
	fc.Step(c.poll)
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), `node "node-a" is already served by another berth-kubelet`) {
			t.Fatalf("claim: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the claim was not refused at the poll that saw the renewal")
	}
}

func TestLeaseRelease(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(testLease("me", time.Now()))
	c := NewLeaseClaim(client, "node-a", "me")
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "node-a", metav1.GetOptions{})
	if got.Spec.HolderIdentity != nil {
		t.Errorf("holder after release: %q", *got.Spec.HolderIdentity)
	}
	// Released, the next process claims it at once.
	next := NewLeaseClaim(client, "node-a", "next")
	if err := next.claim(ctx); err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	// A lease another holder took is left alone.
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "node-a", metav1.GetOptions{})
	if got.Spec.HolderIdentity == nil || *got.Spec.HolderIdentity != "next" {
		t.Errorf("holder %v, want next", got.Spec.HolderIdentity)
	}
}

func TestHolderGone(t *testing.T) {
	me := HolderIdentity()
	mine, err := holderFields()
	if err != nil {
		t.Skip("no /proc/self/ns/pid")
	}
	same := func(pid int) string {
		return fmt.Sprintf("berth-kubelet host=%s pidns=%s pid=%d id=ffff", mine["host"], mine["pidns"], pid)
	}
	tests := []struct {
		holder     string
		gone, know bool
	}{
		{holder: me, gone: true, know: true},                 // this very process: an earlier incarnation of it
		{holder: same(os.Getppid()), gone: true, know: true}, // runs, but no berth-kubelet
		{holder: same(1 << 30), gone: true, know: true},      // no such process
		{holder: "berth-kubelet host=elsewhere pidns=" + mine["pidns"] + " pid=1 id=ffff"},
		{holder: fmt.Sprintf("berth-kubelet host=%s pidns=1 pid=1 id=ffff", mine["host"])},
		{holder: "node-a"},
		{holder: "berth-kubelet host= pidns= pid=x"},
	}
	for _, tc := range tests {
		gone, know := holderGone(tc.holder)
		if gone != tc.gone || know != tc.know {
			t.Errorf("holderGone(%q) = %v, %v; want %v, %v", tc.holder, gone, know, tc.gone, tc.know)
		}
	}
	if !strings.HasPrefix(me, "berth-kubelet host=") || me == HolderIdentity() {
		t.Errorf("holder identities %q and another: want unique ones", me)
	}
}

func TestLeaseClaimRetriesABusyAPIServer(t *testing.T) {
	client := fake.NewClientset()
	failures := 2
	client.PrependReactor("create", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures > 0 {
			failures--
			return true, nil, apierrors.NewTimeoutError("etcdserver: request timed out", 1)
		}
		return false, nil, nil
	})
	c := NewLeaseClaim(client, "node-a", "me")
	fc := testingclock.NewFakeClock(time.Now())
	c.clock = fc
	if err := drive(t, fc, time.Second, func() error { return c.ClaimRetrying(context.Background()) }); err != nil {
		t.Fatalf("claim after two timeouts: %v", err)
	}
	l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), "node-a", metav1.GetOptions{})
	if err != nil || *l.Spec.HolderIdentity != "me" {
		t.Errorf("lease %v, %v", l, err)
	}
}

// TestLeaseClaimRetryWaits checks the waits between claims while the apiserver fails: short at first (berth up
// starts the kubelets while the apiserver starts), doubling up to a second.
func TestLeaseClaimRetryWaits(t *testing.T) {
	tests := []struct {
		name     string
		failures int
		want     []time.Duration
	}{
		{name: "one failure", failures: 1, want: []time.Duration{200 * time.Millisecond}},
		{name: "doubling up to a second", failures: 5, want: []time.Duration{
			200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			fc := testingclock.NewFakeClock(time.Now())
			var attempts []time.Time
			failures := tc.failures
			client.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
				attempts = append(attempts, fc.Now())
				if failures > 0 {
					failures--
					return true, nil, apierrors.NewServiceUnavailable("the apiserver is starting")
				}
				return false, nil, nil
			})
			c := NewLeaseClaim(client, "node-a", "me")
			c.clock = fc
			if err := drive(t, fc, 100*time.Millisecond, func() error { return c.ClaimRetrying(context.Background()) }); err != nil {
				t.Fatalf("claim after %d failures: %v", tc.failures, err)
			}
			var got []time.Duration
			for i := 1; i < len(attempts); i++ {
				got = append(got, attempts[i].Sub(attempts[i-1]))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("waits between claims %v, want %v", got, tc.want)
			}
		})
	}
}
