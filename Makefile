# Berth: Kubernetes pods on plain Podman hosts.
SHELL := /bin/bash
GO ?= go
OUT ?= _output
BIN := $(OUT)/bin
STATE ?= $(HOME)/.local/share/berth
KUBE_VERSION := v1.37.2
export CGO_ENABLED := 0
# Build tags for the Podman bindings (remote client only, no cgo storage drivers).
TAGS := remote,exclude_graphdriver_btrfs,btrfs_noversion,exclude_graphdriver_devicemapper,containers_image_openpgp
export GOFLAGS := -tags=$(TAGS) -trimpath
VERSION_PKGS := k8s.io/component-base/version k8s.io/client-go/pkg/version
LDFLAGS := -s -w $(foreach p,$(VERSION_PKGS),-X $(p).gitVersion=$(KUBE_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=37 -X $(p).gitTreeState=clean)
GOBUILD := $(GO) build -ldflags '$(LDFLAGS)'
# hack/coredns, a module of its own, builds with upstream CoreDNS's tag instead of the Podman ones
COREDNS_GOFLAGS := -trimpath -tags=grpcnotrace

UPSTREAM := kube-apiserver kube-controller-manager kube-proxy kubectl
OURS := berth berth-scheduler berth-kubelet berth-etcd
# metrics-server (for kubectl top), built from its own module at a pinned version
METRICS_SERVER_VERSION := v0.8.0
# helm (the chart's e2e test and chart-check), built from its own module at a pinned version
HELM_VERSION := v3.22.0
# gotestsum runs make test and make e2e: a line per test with its result and time, and a failed test's output
GOTESTSUM_VERSION := v1.13.0
GOTESTSUM = $(BIN)/gotestsum --format testname --format-hide-empty-pkg --jsonfile $(OUT)/test.json --

.PHONY: kind kind-image kind-e2e coredns coredns-test all build run demo down test unit e2e fuzz bench lint images image container-images chart-check manifests podspec-doc deps conformance clean FORCE

all: build

# deps: install the Debian packages Berth needs (podman, runc, catatonit, busybox-static, ...) when absent
deps:
	@hack/deps.sh

# build: every binary berth up runs and the tests use, into $(BIN); Go's caches make a rebuild with no change take
# seconds
build: core $(BIN)/metrics-server $(BIN)/helm $(BIN)/coredns

# core: the main module's binaries, Kubernetes' and Berth's, from one go build: one load of the packages, and the
# compile and link steps of all of them scheduled together on the cores (one go build per binary linked each in
# turn); hack/gobuild.sh prints the packages compiled so far every 15 s
CORE_PKGS := $(addprefix k8s.io/kubernetes/cmd/,$(UPSTREAM)) $(addprefix ./cmd/,$(OURS))
core: FORCE
	@mkdir -p $(BIN)
	@GO=$(GO) hack/gobuild.sh "go build of $(words $(CORE_PKGS)) binaries" $(BIN)/ -ldflags '$(LDFLAGS)' $(CORE_PKGS)

$(addprefix $(BIN)/,$(UPSTREAM)): FORCE
	@mkdir -p $(BIN)
	$(GOBUILD) -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

$(addprefix $(BIN)/,$(OURS)): FORCE
	@mkdir -p $(BIN)
	$(GOBUILD) -o $@ ./cmd/$(notdir $@)

# Installed beside, then moved in: a running berth up (make run) starts it as soon as it appears, whole.
# (A folder of its own per build: a second make run may start another while the first one's runs.)
$(BIN)/metrics-server:
	@mkdir -p $(BIN)
	@tmp=$$(mktemp -d $(abspath $(BIN))/.metrics-server.XXXXXX) && \
	echo "go install sigs.k8s.io/metrics-server/cmd/metrics-server@$(METRICS_SERVER_VERSION)" && \
	GOFLAGS=-trimpath GOBIN=$$tmp $(GO) install -ldflags '-s -w' sigs.k8s.io/metrics-server/cmd/metrics-server@$(METRICS_SERVER_VERSION) && \
	mv $$tmp/metrics-server $@; status=$$?; rm -rf $$tmp; exit $$status

$(BIN)/gotestsum:
	@mkdir -p $(BIN)
	GOFLAGS=-trimpath GOBIN=$(abspath $(BIN)) $(GO) install -ldflags '-s -w' gotest.tools/gotestsum@$(GOTESTSUM_VERSION)

$(BIN)/helm:
	@mkdir -p $(BIN)
	GOFLAGS=-trimpath GOBIN=$(abspath $(BIN)) $(GO) install -ldflags '-s -w' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# coredns (cluster DNS): CoreDNS's Go module with only the plugins of kubeadm's Corefile, from hack/coredns, a module
# of its own so that CoreDNS's dependency versions leave ours alone; built as upstream's Makefile does (grpcnotrace).
# berth up --node-netns deploys it as cluster DNS; make coredns-test runs its tests (make test does too)
$(BIN)/coredns: FORCE
	@mkdir -p $(BIN)
	cd hack/coredns && GOFLAGS='$(COREDNS_GOFLAGS)' $(GO) build -ldflags '-s -w' -o $(abspath $@) .

coredns: $(BIN)/coredns
coredns-test:
	cd hack/coredns && GOFLAGS='$(COREDNS_GOFLAGS)' $(GO) test -count=1 .

# kind: the kind CLI (sigs.k8s.io/kind at a pinned version), for make kind-image/kind-e2e and docs/kind.md
KIND_VERSION := v0.33.0
# kind-image: kind's node image for Kubernetes $(KUBE_VERSION), built offline (Debian's mirror and Go modules, no
# registry) by hack/kind/node-image.sh into Podman's storage; cached by the hash of its inputs (a rebuild with no
# change takes seconds; the first one ~10 min). KIND_CACHE holds the Debian root filesystem it starts from.
KIND_IMAGE ?= localhost/berth/kind-node:$(KUBE_VERSION)
KIND_CACHE ?= $(OUT)/kind
KIND_UPSTREAM := kubeadm kubelet kube-scheduler
KIND_OURS := pause iptables-wrapper

$(BIN)/kind:
	@mkdir -p $(BIN)
	GOFLAGS=-trimpath GOBIN=$(abspath $(BIN)) $(GO) install -ldflags '-s -w' sigs.k8s.io/kind@$(KIND_VERSION)

kind: $(BIN)/kind

$(addprefix $(BIN)/,$(KIND_UPSTREAM)): FORCE
	@mkdir -p $(BIN)
	$(GOBUILD) -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

$(addprefix $(BIN)/,$(KIND_OURS)): FORCE
	@mkdir -p $(BIN)
	$(GOBUILD) -o $@ ./hack/kind/$(notdir $@)

# The image's hash covers every binary: without VCS stamps (which change with any commit, and in a git worktree
# with the main checkout's state) a rebuild with no change of the sources gives the same binaries.
kind-image: GOFLAGS += -buildvcs=false
kind-image: COREDNS_GOFLAGS += -buildvcs=false
kind-image: $(addprefix $(BIN)/,$(KIND_UPSTREAM) $(KIND_OURS) kube-apiserver kube-controller-manager kube-proxy kubectl berth-etcd coredns)
	@command -v debootstrap >/dev/null || { echo "make kind-image needs debootstrap: apt-get install debootstrap"; exit 1; }
	PATH="$(abspath $(BIN)):$$PATH" KIND_VERSION=$(KIND_VERSION) hack/kind/node-image.sh $(BIN) $(KIND_CACHE) $(KIND_IMAGE)

# kind-e2e: docs/kind.md end to end (e2e/kind, build tag kind; not part of make test or CI): kind create cluster
# of the kind-image → Berth's images loaded with kind load image-archive → helm install against a Podman service of
# the test's own → a berth-scheduler pod Succeeds in that Podman, kubectl logs reads it → helm uninstall → kind
# delete cluster; prints its wall time
kind-e2e: kind-image $(BIN)/kind $(BIN)/helm $(BIN)/berth-scheduler $(BIN)/berth-kubelet
	@start=$$(date +%s); status=0; \
	$(GO) test -tags=$(TAGS),kind -count=1 -v -timeout 30m ./e2e/kind/ || status=$$?; \
	echo "kind-e2e: wall time $$(( $$(date +%s) - start ))s (image build excluded), exit $$status"; exit $$status


# run: the main job: install what is missing, build what berth up runs, start the local cluster in the background,
# run the demo. The Debian packages, the main module's binaries and CoreDNS are made at once (make -j3).
# metrics-server (kubectl top), for which a first build compiles a second copy of Kubernetes' libraries at its own
# versions, is built after the demo, in the background; the running cluster starts it once it is there.
run:
	@$(MAKE) --no-print-directory -j3 deps core $(BIN)/coredns
	@hack/demo.sh "$(BIN)" "$(STATE)"
	@if [ ! -x $(BIN)/metrics-server ]; then \
		echo "Building metrics-server (for kubectl top) in the background; log: $(OUT)/metrics-server-build.log"; \
		nohup $(MAKE) --no-print-directory $(BIN)/metrics-server > $(OUT)/metrics-server-build.log 2>&1 & \
	fi

# down: stop the cluster make run started (its objects stay in $(STATE))
down:
	$(BIN)/berth down --state "$(STATE)"

# images: import the local images (localhost/berth/busybox) into the nodes' Podman storage of $(STATE)
images: deps $(BIN)/berth
	$(BIN)/berth images --state "$(STATE)"

# image (or container-images): the scheduler and virtual-kubelet images (FROM scratch) built with podman from $(BIN)
image: container-images
container-images: $(BIN)/berth-scheduler $(BIN)/berth-kubelet
	podman build --target scheduler -t localhost/berth/scheduler:dev .
	podman build --target kubelet -t localhost/berth/kubelet:dev .

# chart-check: helm lint/template of charts/berth for default and custom values, schema refusals, and
# manifests/berth.yaml in sync with the chart
chart-check: $(BIN)/helm
	PATH="$(abspath $(BIN)):$$PATH" hack/chart-check.sh

# manifests: manifests/berth.yaml, the chart rendered with its default values (plain kubectl apply -f)
manifests:
	hack/manifests.sh > manifests/berth.yaml.tmp && mv manifests/berth.yaml.tmp manifests/berth.yaml

# E2E_TIMEOUT bounds the e2e package, which took 48 minutes on CI's 2 cores on 2026-12-07: a hang fails it, a
# slower machine does not (CI's own limit is 90 minutes).
E2E_TIMEOUT ?= 70m

# test: unit tests, then e2e tests against a real control plane and Podman
test: deps build $(BIN)/gotestsum
	$(GOTESTSUM) -count=1 -timeout $(E2E_TIMEOUT) ./...
	cd conformance && $(GO) test -count=1 ./cmd/...
	cd hack/coredns && GOFLAGS='$(COREDNS_GOFLAGS)' $(GO) test -count=1 .

# unit: unit tests only (no cluster)
unit:
	$(GO) test -count=1 -short ./...
	cd conformance && $(GO) test -count=1 ./cmd/...
	cd hack/coredns && GOFLAGS='$(COREDNS_GOFLAGS)' $(GO) test -count=1 .

# e2e: e2e tests only
e2e: deps build $(BIN)/gotestsum
	$(GOTESTSUM) -count=1 -timeout $(E2E_TIMEOUT) ./e2e/

# fuzz: each fuzz target of the provider (hostile pod specs, container records) for FUZZTIME; a failing input is
# saved under provider/testdata/fuzz/<target> and fails the run
FUZZTIME ?= 30s
FUZZ_TARGETS := FuzzPodSpecTranslation FuzzStatusTranslation
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./provider/; \
	done

# bench: every benchmark (Go micro-benchmarks, scheduler throughput, pod start/exit, kubelet API) in one run, one
# table of figures beside their same-run baselines into $(OUT)/bench.md (~15 min; BENCH_QUICK=1: ~5 min, rough);
# BENCH_FLAGS passes more flags to hack/bench, e.g. BENCH_FLAGS='--only go,schedperf --update-docs docs/benchmarks.md'
BENCH_TOOLS := schedperf podbench apibench bench
bench: deps build $(addprefix $(BIN)/,$(BENCH_TOOLS))
	$(BIN)/bench --bin-dir $(BIN) --out $(OUT)/bench.md --log-dir $(OUT)/bench $(if $(filter-out 0,$(BENCH_QUICK)),--quick) $(BENCH_FLAGS)

$(addprefix $(BIN)/,$(BENCH_TOOLS)): FORCE
	@mkdir -p $(BIN)
	$(GOBUILD) -o $@ ./hack/$(notdir $@)

# conformance: upstream's sig-node conformance specs (Kubernetes $(KUBE_VERSION), test/e2e/common/node) against a
# new berth up (or the cluster KUBECONFIG names): one line per spec, `conformance: N passed, N failed`, reports in
# $(OUT)/conformance/ (hack/conformance/run.sh says which variables tune it)
conformance: deps build
	hack/conformance/run.sh

# podspec-doc: docs/podspec.md, what Berth does with each PodSpec field, from provider/podspec/inventory.go (the unit
# tests fail while it is out of date)
podspec-doc:
	$(GO) run ./hack/podspecdoc -o docs/podspec.md

# lint: gofmt, go vet, golangci-lint
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	@export PATH="$$PATH:$$($(GO) env GOPATH)/bin"; \
	  command -v golangci-lint >/dev/null || $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0; \
	  golangci-lint run ./...

# clean: remove built binaries
clean:
	rm -rf $(OUT)

FORCE:
