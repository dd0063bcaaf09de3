package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// A berth-kubelet claims its node's Lease (kube-node-lease/<node>) before it touches Podman, with a holder identity
// of its own, so that a second one started with the same --node-name refuses to run instead of fighting the first
// over the pods. virtual-kubelet's lease controller keeps the holder identity it finds when it renews the lease.
// A clean stop (SIGTERM, SIGINT) releases the lease so that a restart right after is not refused.

// leaseDuration is the node lease's duration, as virtual-kubelet and the kubelet use (renewed every quarter).
const leaseDuration = vknode.DefaultLeaseDuration * time.Second

// HolderIdentity names this process in the node's lease: its host, its pid namespace and pid (which tell, on the
// same host, whether the holder still runs), and a random part that sets a restarted process apart.
func HolderIdentity() string {
	host, _ := os.Hostname()
	pidns := ""
	if l, err := os.Readlink("/proc/self/ns/pid"); err == nil {
		pidns = strings.TrimSuffix(strings.TrimPrefix(l, "pid:["), "]")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("berth-kubelet host=%s pidns=%s pid=%d id=%s", host, pidns, os.Getpid(), hex.EncodeToString(b))
}

// holderGone tells whether a holder identity names a berth-kubelet process that has ended: one of this host and
// pid namespace whose pid runs no berth-kubelet any more (or is this very process). ok is false when it cannot
// tell (another host, another pid namespace, or an identity not of this form).
func holderGone(holder string) (gone, ok bool) {
	f := map[string]string{}
	for _, kv := range strings.Fields(holder) {
		if k, v, found := strings.Cut(kv, "="); found {
			f[k] = v
		}
	}
	pid, err := strconv.Atoi(f["pid"])
	if !strings.HasPrefix(holder, "berth-kubelet ") || err != nil || pid <= 0 || f["pidns"] == "" {
		return false, false
	}
	mine, err := holderFields()
	if err != nil || mine["host"] != f["host"] || mine["pidns"] != f["pidns"] {
		return false, false
	}
	if pid == os.Getpid() {
		return true, true
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return true, true
	}
	// A pid used again since runs another program.
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	prog := filepath.Base(argv0)
	return prog != "berth-kubelet" && prog != filepath.Base(os.Args[0]), true
}

// holderFields are this process's host and pid namespace, as HolderIdentity writes them.
func holderFields() (map[string]string, error) {
	out := map[string]string{}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	out["host"] = host
	l, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return nil, err
	}
	out["pidns"] = strings.TrimSuffix(strings.TrimPrefix(l, "pid:["), "]")
	return out, nil
}

// LeaseClaim claims a node's lease for a holder.
type LeaseClaim struct {
	client   kubernetes.Interface
	node     string
	identity string
	// clock stamps the lease and times the watch, its polls and the retries' back-off (tests fake it).
	clock clock.WithTicker
	// gone tells whether a holder has ended (holderGone).
	gone func(holder string) (gone, ok bool)
	// watch is how long a fresh lease of a holder whose liveness cannot be told locally is watched for a renewal
	// (a little over virtual-kubelet's renewal interval, a quarter of the duration); poll is how often.
	watch, poll time.Duration
}

// NewLeaseClaim claims the lease of node for the holder identity (HolderIdentity).
func NewLeaseClaim(client kubernetes.Interface, node, identity string) *LeaseClaim {
	return &LeaseClaim{client: client, node: node, identity: identity, clock: clock.RealClock{}, gone: holderGone,
		watch: leaseDuration/4 + 3*time.Second, poll: time.Second}
}

// errServed is another berth-kubelet serving the node.
func (c *LeaseClaim) errServed(l *coordinationv1.Lease) error {
	age := "never"
	if l.Spec.RenewTime != nil {
		age = c.clock.Now().Sub(l.Spec.RenewTime.Time).Round(time.Second).String() + " ago"
	}
	return fmt.Errorf("node %q is already served by another berth-kubelet (lease %s/%s held by %q, renewed %s); stop it first or choose another --node-name",
		c.node, l.Namespace, l.Name, *l.Spec.HolderIdentity, age)
}

// live tells whether a lease is held by someone else who renewed it within its duration.
func (c *LeaseClaim) live(l *coordinationv1.Lease) bool {
	h := l.Spec.HolderIdentity
	if h == nil || *h == "" || *h == c.identity || l.Spec.RenewTime == nil {
		return false
	}
	d := leaseDuration
	if l.Spec.LeaseDurationSeconds != nil && *l.Spec.LeaseDurationSeconds > 0 {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return c.clock.Now().Sub(l.Spec.RenewTime.Time) <= d
}

// retryable is a failure to talk to the apiserver (busy, restarting), worth trying again.
type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

// claimBackoff is the first wait before ClaimRetrying tries again, and claimBackoffMax the longest: short, since
// berth up starts the kubelets while the apiserver starts, and every wait past its start delays the node's Ready.
const (
	claimBackoff    = 200 * time.Millisecond
	claimBackoffMax = time.Second
)

// ClaimRetrying claims the lease, trying again with back-off for up to two minutes while the apiserver fails, as a
// kubelet keeps trying to reach it; a node served by another berth-kubelet is refused at once.
func (c *LeaseClaim) ClaimRetrying(ctx context.Context) error {
	deadline := c.clock.Now().Add(2 * time.Minute)
	backoff := claimBackoff
	for {
		err := c.claim(ctx)
		var r retryable
		if err == nil || !errors.As(err, &r) || c.clock.Now().After(deadline) {
			return err
		}
		klog.FromContext(ctx).Info("Claiming the node's lease failed; trying again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return err
		case <-c.clock.After(backoff):
		}
		backoff = min(2*backoff, claimBackoffMax)
	}
}

// claim makes this process the holder of the node's lease, or says that another berth-kubelet serves the node. A
// lease held by another holder and renewed within its duration is refused at once when that holder is known to
// run (same host, its process alive), taken over when it is known to have ended, and otherwise watched: renewed
// again, it is refused; not renewed within the watch, its holder is taken as gone.
func (c *LeaseClaim) claim(ctx context.Context) error {
	leases := c.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	logger := klog.FromContext(ctx)
	for attempt := 0; ; attempt++ {
		if attempt >= 5 {
			return fmt.Errorf("claim the lease of node %q: it keeps changing under us", c.node)
		}
		l, err := leases.Get(ctx, c.node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			now := metav1.NewMicroTime(c.clock.Now())
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: c.node, Namespace: corev1.NamespaceNodeLease},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &c.identity, LeaseDurationSeconds: new(int32(vknode.DefaultLeaseDuration)),
					AcquireTime: &now, RenewTime: &now},
			}, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return retryable{fmt.Errorf("create the lease of node %q: %w", c.node, err)}
			}
			return nil
		}
		if err != nil {
			return retryable{fmt.Errorf("read the lease of node %q: %w", c.node, err)}
		}
		if c.live(l) {
			gone, known := c.gone(*l.Spec.HolderIdentity)
			switch {
			case known && !gone:
				return c.errServed(l)
			case known:
				logger.Info("Taking over the node's lease from a berth-kubelet that has ended", "holder", *l.Spec.HolderIdentity)
			default:
				logger.Info("The node's lease is held by another holder; waiting to see whether it is renewed", "holder", *l.Spec.HolderIdentity, "wait", c.watch)
				if l, err = c.watchRenewal(ctx, l); err != nil {
					return err
				}
			}
		}
		prev := ""
		if l.Spec.HolderIdentity != nil {
			prev = *l.Spec.HolderIdentity
		}
		now := metav1.NewMicroTime(c.clock.Now())
		l.Spec.HolderIdentity = &c.identity
		l.Spec.RenewTime, l.Spec.AcquireTime = &now, &now
		if l.Spec.LeaseDurationSeconds == nil {
			l.Spec.LeaseDurationSeconds = new(int32(vknode.DefaultLeaseDuration))
		}
		if prev != "" && prev != c.identity {
			l.Spec.LeaseTransitions = new(ptrOr(l.Spec.LeaseTransitions) + 1)
		}
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return retryable{fmt.Errorf("claim the lease of node %q: %w", c.node, err)}
		}
		return nil
	}
}

// watchRenewal polls a lease for c.watch: renewed (or taken) by someone else meanwhile, the node is served;
// otherwise the last lease read is returned for taking over.
func (c *LeaseClaim) watchRenewal(ctx context.Context, l *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	leases := c.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	first := l.Spec.RenewTime.Time
	holder := *l.Spec.HolderIdentity
	t := c.clock.NewTicker(c.poll)
	defer t.Stop()
	deadline := c.clock.After(c.watch)
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline:
			return l, nil
		case <-t.C():
		}
		cur, err := leases.Get(ctx, c.node, metav1.GetOptions{})
		if err != nil {
			continue
		}
		l = cur
		if h := cur.Spec.HolderIdentity; h != nil && *h != "" && *h != c.identity && cur.Spec.RenewTime != nil &&
			(*h != holder || !cur.Spec.RenewTime.Time.Equal(first)) {
			return nil, c.errServed(cur)
		}
	}
}

func ptrOr(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// Release gives the node's lease up if this process still holds it, so that the next berth-kubelet of the node
// may claim it at once.
func (c *LeaseClaim) Release(ctx context.Context) error {
	leases := c.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	for range 3 {
		l, err := leases.Get(ctx, c.node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != c.identity {
			return nil
		}
		l.Spec.HolderIdentity = nil
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("release the lease of node %q: it keeps changing", c.node)
}
