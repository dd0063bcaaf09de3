package provider

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/berth-dev/berth/provider/podman"
	"github.com/berth-dev/berth/provider/podstatus"
)

// A Berth node's Podman host may be another machine: while Berth cannot reach it, the pods' last known statuses
// go stale. Once that has lasted longer than Config.PodmanUnreachableGrace, every pod not yet terminal reports
// phase Unknown ("the state of the pod could not be obtained, typically due to an error in communicating with
// the host"), not Ready, with ReasonPodmanUnreachable; the containers' statuses stay as last known. When Podman
// answers again the statuses are computed anew. Runners that meet an unreachable Podman wait for it and retry,
// instead of taking the failure for the container's.

// DefaultPodmanUnreachableGrace is how long pods keep their phase while Podman does not answer (berth-kubelet
// --podman-unreachable-grace).
const DefaultPodmanUnreachableGrace = 40 * time.Second

// ReasonPodmanUnreachable is the pod's status.reason, and its Ready and ContainersReady conditions' reason, while
// its phase is Unknown because Podman does not answer.
const ReasonPodmanUnreachable = podstatus.ReasonPodmanUnreachable

// pingTimeout bounds one ping of the Podman service.
const pingTimeout = 5 * time.Second

// outage is a period during which Podman did not answer.
type outage struct {
	since time.Time
	err   error
}

// watchPodman pings Podman every PodmanPingInterval until ctx ends, so that an outage is noticed (and its end)
// even when no call to Podman is under way.
func (p *Provider) watchPodman(ctx context.Context) {
	wait.UntilWithContext(ctx, func(ctx context.Context) { _ = p.ping(ctx) }, p.cfg.PodmanPingInterval)
}

// ping pings Podman once and records the outcome.
func (p *Provider) ping(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	err := p.cfg.Runtime.Ping(pctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		p.podmanFailed(ctx, err)
		return err
	}
	p.podmanAnswered(ctx)
	return nil
}

// podmanFailed records that a call to Podman could not reach it.
func (p *Provider) podmanFailed(ctx context.Context, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.down == nil {
		p.down = &outage{since: now, err: err}
		klog.FromContext(ctx).Error(err, "Podman does not answer", "grace", p.cfg.PodmanUnreachableGrace)
	} else {
		p.down.err = err
	}
	p.judgeLocked(ctx, now)
}

// podmanAnswered records that Podman answered.
func (p *Provider) podmanAnswered(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down != nil {
		klog.FromContext(ctx).Info("Podman answers again", "unreachableFor", time.Since(p.down.since).Round(time.Second))
		p.down = nil
	}
	p.judgeLocked(ctx, time.Now())
}

// judgeLocked turns the pods' statuses Unknown once the outage lasted longer than the grace, and back when it is
// over; both turns report every pod anew. p.mu must be held.
func (p *Provider) judgeLocked(ctx context.Context, now time.Time) {
	stale := p.down != nil && now.Sub(p.down.since) >= p.cfg.PodmanUnreachableGrace
	if stale == (p.stale != nil) {
		return
	}
	logger := klog.FromContext(ctx)
	if stale {
		o := *p.down
		p.stale = &o
		logger.Info("Podman unreachable for longer than the grace; reporting the pods' phase as Unknown", "since", o.since, "pods", len(p.pods))
	} else {
		p.stale = nil
		logger.Info("Podman reachable again; reporting the pods' statuses anew", "pods", len(p.pods))
	}
	for _, r := range p.pods {
		p.changedLocked(r)
	}
}

// unreachable tells whether err, returned by a call to Podman, means that Podman could not be reached rather
// than its answer: a transport error, or any error while a ping fails too. It records the outage.
func (p *Provider) unreachable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if podman.IsUnreachable(err) {
		p.podmanFailed(ctx, err)
		return true
	}
	return p.ping(ctx) != nil && ctx.Err() == nil
}

// waitPodman waits until Podman answers a ping; false means ctx ended first.
func (p *Provider) waitPodman(ctx context.Context) bool {
	for {
		if !sleep(ctx, p.cfg.PodmanPingInterval) {
			return false
		}
		if p.ping(ctx) == nil {
			return true
		}
	}
}

// retryUnreachable calls call until it succeeds or fails while Podman answers: a failure to reach Podman says
// nothing of the pod or container the call was about, so it is retried once Podman answers again rather than
// reported. It returns call's last error, or ctx's.
func (p *Provider) retryUnreachable(ctx context.Context, what string, call func() error) error {
	for {
		err := call()
		if err == nil || !p.unreachable(ctx, err) {
			return err
		}
		klog.FromContext(ctx).V(2).Info("Podman does not answer; retrying once it does", "call", what, "err", err)
		if !p.waitPodman(ctx) {
			return ctx.Err()
		}
	}
}
