package podspec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/kubernetes/pkg/securitycontext"
)

// NeedsImageUser tells whether verifying runAsNonRoot (VerifyRunAsNonRoot) needs the image's user.
func NeedsImageUser(pod *corev1.Pod, c *corev1.Container) bool {
	sc := securitycontext.DetermineEffectiveSecurityContext(pod, c)
	return sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot && sc.RunAsUser == nil
}

// VerifyRunAsNonRoot checks runAsNonRoot against the user the container will run as, as the kubelet does before
// creating a container: the effective runAsUser if set, else the image's user (imageUser, as the image's config
// says it; see NeedsImageUser).
func VerifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, imageUser string) error {
	sc := securitycontext.DetermineEffectiveSecurityContext(pod, c)
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		return nil
	}
	if sc.RunAsUser != nil {
		if *sc.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", FormatPod(pod), c.Name)
		}
		return nil
	}
	uid, username := imageUID(imageUser)
	switch {
	case uid == nil:
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", username, FormatPod(pod), c.Name)
	case *uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", FormatPod(pod), c.Name)
	default:
		if errs := validation.IsValidUserID(*uid); len(errs) > 0 {
			return fmt.Errorf("container has runAsNonRoot and image has an invalid user id (%d). (Must be 1-(%d)): %s (pod: %q, container: %s)",
				*uid, math.MaxInt32, strings.Join(errs, "; "), FormatPod(pod), c.Name)
		}
		return nil
	}
}

// imageUID reads an image's configured user (user, uid, user:group or uid:gid) as the container runtimes report it
// to the kubelet: a numeric user is a uid, another one a username, none is root.
func imageUID(imageUser string) (uid *int64, username string) {
	u, _, _ := strings.Cut(imageUser, ":")
	if u == "" {
		return new(int64), ""
	}
	if n, err := strconv.ParseInt(u, 10, 64); err == nil {
		return &n, ""
	}
	return nil, u
}
