package benchutil

import (
	"context"
	"fmt"
	"time"
)

// Poll calls cond every interval until it reports done, returns an error, or timeout passes.
func Poll(ctx context.Context, every, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		if !SleepCtx(ctx, every) {
			return fmt.Errorf("%s: not within %s: %w", what, timeout, ctx.Err())
		}
	}
}

// SleepCtx waits for d; false when ctx ended first.
func SleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
