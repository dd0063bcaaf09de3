package kubeletapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeAPI answers TokenReviews (token "good" is user alice) and SubjectAccessReviews (alice may get nodes/log and
// nodes/proxy of node n1), and counts the reviews.
func fakeAPI(t *testing.T) (*fake.Clientset, *int, *int) {
	t.Helper()
	c := fake.NewClientset()
	var tokenReviews, sars int
	c.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tokenReviews++
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview).DeepCopy()
		if tr.Spec.Token == "good" {
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "alice", Groups: []string{"devs"}}}
		}
		return true, tr, nil
	})
	c.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sars++
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		ra := sar.Spec.ResourceAttributes
		groups := map[string]bool{}
		for _, g := range sar.Spec.Groups {
			groups[g] = true
		}
		sar.Status.Allowed = sar.Spec.User == "alice" && groups["system:authenticated"] && ra != nil && ra.Resource == "nodes" &&
			ra.Name == "n1" && ra.Verb == "get" && ra.Version == "v1" && (ra.Subresource == "log" || ra.Subresource == "proxy")
		return true, sar, nil
	})
	return c, &tokenReviews, &sars
}

func TestWebhookAuth(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		want   int
	}{
		{name: "no credentials", method: http.MethodGet, path: "/containerLogs/ns/p/c", want: http.StatusUnauthorized},
		{name: "unknown token", method: http.MethodGet, path: "/containerLogs/ns/p/c", token: "bad", want: http.StatusUnauthorized},
		{name: "container logs are nodes/proxy", method: http.MethodGet, path: "/containerLogs/ns/p/c", token: "good", want: http.StatusOK},
		{name: "node logs are nodes/log", method: http.MethodGet, path: "/logs/syslog", token: "good", want: http.StatusOK},
		{name: "stats are nodes/stats", method: http.MethodGet, path: "/stats/summary", token: "good", want: http.StatusForbidden},
		{name: "metrics are nodes/metrics", method: http.MethodGet, path: "/metrics/resource", token: "good", want: http.StatusForbidden},
		{name: "exec is create", method: http.MethodPost, path: "/exec/ns/p/c", token: "good", want: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := fakeAPI(t)
			a := NewWebhookAuth(Clients{Authentication: c.AuthenticationV1(), Authorization: c.AuthorizationV1()}, "n1", nil)
			h := a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("%s %s: status %d, want %d (%s)", tc.method, tc.path, rec.Code, tc.want, rec.Body)
			}
		})
	}
}

func TestWebhookAuthCachesReviews(t *testing.T) {
	c, tokenReviews, sars := fakeAPI(t)
	a := NewWebhookAuth(Clients{Authentication: c.AuthenticationV1(), Authorization: c.AuthorizationV1()}, "n1", nil)
	h := a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	for _, path := range []string{"/containerLogs/ns/p/c", "/containerLogs/ns/p/c", "/stats/summary", "/stats/summary"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer good")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if *tokenReviews != 1 {
		t.Errorf("%d token reviews, want 1 (cached for %s)", *tokenReviews, TokenCacheTTL)
	}
	// Allowed and refused answers are both cached; the path is not part of the review.
	if *sars != 2 {
		t.Errorf("%d subject access reviews, want 2 (one per subresource)", *sars)
	}
}

func TestSubresource(t *testing.T) {
	for path, want := range map[string]string{
		"/stats": "stats", "/stats/summary": "stats", "/statsx": "proxy",
		"/metrics": "metrics", "/metrics/resource": "metrics", "/logs/": "log", "/logs": "log",
		"/pods": "proxy", "/exec/a/b/c": "proxy", "/portForward/a/b": "proxy", "/debug/pprof/heap": "proxy",
	} {
		if got := subresource(path); got != want {
			t.Errorf("subresource(%q) = %q, want %q", path, got, want)
		}
	}
}
