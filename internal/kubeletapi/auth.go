package kubeletapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/request/websocket"
	"k8s.io/apiserver/pkg/authentication/request/x509"
	tokencache "k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/klog/v2"
)

// The kubelet's defaults (k8s.io/kubernetes/pkg/kubelet/apis/config/v1beta1), which virtual-kubelet's
// nodeutil.WebhookAuth uses too.
const (
	// TokenCacheTTL is how long a TokenReview's answer is kept (authentication.webhook.cacheTTL).
	TokenCacheTTL = 2 * time.Minute
	// AllowCacheTTL is how long an allowing SubjectAccessReview is kept (authorization.webhook.cacheAuthorizedTTL).
	AllowCacheTTL = 5 * time.Minute
	// DenyCacheTTL is how long a refusing SubjectAccessReview is kept (authorization.webhook.cacheUnauthorizedTTL).
	DenyCacheTTL = 30 * time.Second
)

// retryBackoff is the apiserver's DefaultAuthWebhookRetryBackoff: a review that fails for a passing reason is
// tried up to 5 times over about 4 s.
var retryBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// maxCachedAttrSize bounds the caller-controlled size of attributes whose decision is cached, as the apiserver's
// authorization webhook does against a flood of distinct keys.
const maxCachedAttrSize = 10000

// Clients are the API clients the reviews are made with.
type Clients struct {
	Authentication authenticationclient.AuthenticationV1Interface
	Authorization  authorizationclient.AuthorizationV1Interface
}

// Auth authenticates and authorizes requests to the kubelet API of one node.
type Auth struct {
	nodeName string
	authn    authenticator.Request
	authz    authorizer.UnconditionalAuthorizer
}

// NewWebhookAuth guards the API of node nodeName: clients present a certificate signed by clientCA (nil: no
// client certificates accepted) or a bearer token the apiserver reviews. Requests with neither are unauthorized:
// there is no anonymous access.
func NewWebhookAuth(c Clients, nodeName string, clientCA dynamiccertificates.CAContentProvider) *Auth {
	var authns []authenticator.Request
	if clientCA != nil {
		authns = append(authns, x509.NewDynamic(clientCA.VerifyOptions, x509.CommonNameUserConversion))
	}
	tokens := tokencache.New(&tokenReviewer{client: c.Authentication.TokenReviews()}, false, TokenCacheTTL, TokenCacheTTL)
	authns = append(authns, bearertoken.New(tokens), websocket.NewProtocolAuthenticator(tokens))
	return &Auth{
		nodeName: nodeName,
		authn:    group.NewAuthenticatedGroupAdder(union.New(authns...)),
		authz:    &sarAuthorizer{client: c.Authorization.SubjectAccessReviews(), cache: cache.NewLRUExpireCache(8192)},
	}
}

// Wrap serves h to the requests that are authenticated and allowed: 401 for the others without a known identity,
// 403 for those the apiserver refuses, 500 when it cannot be asked.
func (a *Auth) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger := klog.FromContext(r.Context())
		resp, ok, err := a.authn.AuthenticateRequest(r)
		if err != nil || !ok {
			logger.V(2).Info("Unauthorized kubelet API request", "path", r.URL.Path, "err", err)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := a.Attributes(resp.User, r)
		decision, reason, err := a.authz.Authorize(r.Context(), attrs)
		if err != nil {
			logger.Error(err, "Authorizing a kubelet API request", "user", resp.User.GetName(), "path", r.URL.Path)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if decision != authorizer.DecisionAllow {
			logger.V(2).Info("Forbidden kubelet API request", "user", resp.User.GetName(), "verb", attrs.Verb,
				"subresource", attrs.Subresource, "reason", reason)
			http.Error(w, "Forbidden", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Attributes are what a request asks of the node, as the kubelet's auth (pkg/kubelet/server/auth.go) and
// virtual-kubelet's NodeRequestAttr name it: a verb from the method on nodes/<subresource> of this node.
func (a *Auth) Attributes(u user.Info, r *http.Request) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{
		User:            u,
		Verb:            verb(r.Method),
		APIVersion:      "v1",
		Resource:        "nodes",
		Name:            a.nodeName,
		ResourceRequest: true,
		Path:            r.URL.Path,
		Subresource:     subresource(r.URL.Path),
	}
}

func verb(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodGet:
		return "get"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return ""
}

// subresource maps a path to the node's subresource it is authorized as: stats, metrics, log, or proxy for
// everything else (exec, attach, port-forward, container logs, pods, profiles).
func subresource(path string) string {
	switch {
	case isSubpath(path, "/stats"):
		return "stats"
	case isSubpath(path, "/metrics"):
		return "metrics"
	case isSubpath(path, "/logs"):
		// "log", not "logs", as the kubelet: to match the other log subresources (pods/log).
		return "log"
	}
	return "proxy"
}

func isSubpath(subpath, path string) bool {
	return subpath == path || (strings.HasPrefix(subpath, path) && subpath[len(path)] == '/')
}

// tokenReviewer authenticates a bearer token with a TokenReview, as the apiserver's token webhook does from a
// client (no audiences of its own: the token's audiences are checked only when the request's context asks).
type tokenReviewer struct {
	client authenticationclient.TokenReviewInterface
}

// AuthenticateToken implements authenticator.Token.
func (t *tokenReviewer) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	wantAuds, checkAuds := authenticator.AudiencesFrom(ctx)
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: wantAuds}}
	var result *authenticationv1.TokenReview
	err := withRetries(ctx, func() error {
		var err error
		result, err = t.client.Create(ctx, review, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("token review: %w", err)
	}
	var auds authenticator.Audiences
	if checkAuds {
		if auds = wantAuds.Intersect(result.Status.Audiences); len(auds) == 0 {
			return nil, false, nil
		}
	}
	st := result.Status
	if !st.Authenticated {
		if st.Error != "" {
			return nil, false, errors.New(st.Error)
		}
		return nil, false, nil
	}
	var extra map[string][]string
	if st.User.Extra != nil {
		extra = make(map[string][]string, len(st.User.Extra))
		for k, v := range st.User.Extra {
			extra[k] = v
		}
	}
	return &authenticator.Response{
		User:      &user.DefaultInfo{Name: st.User.Username, UID: st.User.UID, Groups: st.User.Groups, Extra: extra},
		Audiences: auds,
	}, true, nil
}

// sarAuthorizer asks the apiserver with a SubjectAccessReview, keeping answers for AllowCacheTTL (allowed) or
// DenyCacheTTL (not allowed), as the apiserver's authorization webhook does from a client. An error gives
// DecisionNoOpinion with the error.
type sarAuthorizer struct {
	client authorizationclient.SubjectAccessReviewInterface
	cache  *cache.LRUExpireCache
}

// Authorize implements authorizer.UnconditionalAuthorizer.
func (s *sarAuthorizer) Authorize(ctx context.Context, attr authorizer.Attributes) (authorizer.Decision, string, error) {
	review := &authorizationv1.SubjectAccessReview{}
	if u := attr.GetUser(); u != nil {
		review.Spec = authorizationv1.SubjectAccessReviewSpec{User: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), Extra: sarExtra(u.GetExtra())}
	}
	if attr.IsResourceRequest() {
		review.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Namespace: attr.GetNamespace(), Verb: attr.GetVerb(), Group: attr.GetAPIGroup(), Version: attr.GetAPIVersion(),
			Resource: attr.GetResource(), Subresource: attr.GetSubresource(), Name: attr.GetName(),
		}
	} else {
		review.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: attr.GetPath(), Verb: attr.GetVerb()}
	}
	key, err := json.Marshal(review.Spec)
	if err != nil {
		return authorizer.DecisionNoOpinion, "", fmt.Errorf("subject access review key: %w", err)
	}
	if entry, ok := s.cache.Get(string(key)); ok {
		review.Status = entry.(authorizationv1.SubjectAccessReviewStatus)
	} else {
		var result *authorizationv1.SubjectAccessReview
		err := withRetries(ctx, func() error {
			var err error
			result, err = s.client.Create(ctx, review, metav1.CreateOptions{})
			return err
		})
		if err != nil {
			return authorizer.DecisionNoOpinion, "", fmt.Errorf("subject access review: %w", err)
		}
		review.Status = result.Status
		if cachable(attr) {
			ttl := DenyCacheTTL
			if review.Status.Allowed {
				ttl = AllowCacheTTL
			}
			s.cache.Add(string(key), review.Status, ttl)
		}
	}
	st := review.Status
	switch {
	case st.Denied && st.Allowed:
		return authorizer.DecisionDeny, st.Reason, errors.New("subject access review returned both allow and deny")
	case st.Denied:
		return authorizer.DecisionDeny, st.Reason, nil
	case st.Allowed:
		return authorizer.DecisionAllow, st.Reason, nil
	}
	return authorizer.DecisionNoOpinion, st.Reason, nil
}

func cachable(attr authorizer.Attributes) bool {
	n := len(attr.GetNamespace()) + len(attr.GetVerb()) + len(attr.GetAPIGroup()) + len(attr.GetAPIVersion()) +
		len(attr.GetResource()) + len(attr.GetSubresource()) + len(attr.GetName()) + len(attr.GetPath())
	return n < maxCachedAttrSize
}

func sarExtra(extra map[string][]string) map[string]authorizationv1.ExtraValue {
	if extra == nil {
		return nil
	}
	out := make(map[string]authorizationv1.ExtraValue, len(extra))
	for k, v := range extra {
		out[k] = authorizationv1.ExtraValue(v)
	}
	return out
}

// withRetries calls f until it succeeds, fails for good, or retryBackoff runs out, as the apiserver's webhooks
// retry: connection resets, lost HTTP/2 connections, internal errors, timeouts, throttling and anything the
// server asks to retry later. The last error of f is returned.
func withRetries(ctx context.Context, f func() error) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, retryBackoff, func(context.Context) (bool, error) {
		last = f()
		if last == nil {
			return true, nil
		}
		if retriable(last) {
			return false, nil
		}
		return false, last
	})
	if last != nil {
		return last
	}
	return err
}

func retriable(err error) bool {
	if utilnet.IsConnectionReset(err) || utilnet.IsHTTP2ConnectionLost(err) || apierrors.IsInternalError(err) ||
		apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) {
		return true
	}
	_, retry := apierrors.SuggestsClientDelay(err)
	return retry
}
