# Berth: Kubernetes pods on Podman hosts.
SHELL := /bin/bash
GO ?= go
OUT ?= _output
BIN := $(OUT)/bin
KUBE_VERSION := v1.37.2
export CGO_ENABLED := 0
TAGS := remote exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper containers_image_openpgp
VERSION_PKGS := k8s.io/component-base/version k8s.io/client-go/pkg/version
LDFLAGS := -s -w $(foreach p,$(VERSION_PKGS),-X $(p).gitVersion=$(KUBE_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=37 -X $(p).gitTreeState=clean)
GOBUILD := $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)'

UPSTREAM := kube-apiserver kube-controller-manager kubectl
OURS := berth berth-scheduler berth-kubelet berth-etcd

.PHONY: all build run test unit e2e bench lint images deps clean

all: build

# build: every binary berth up runs, into $(BIN) (Go's build cache makes a rebuild with no change ~10 s)
build: $(addprefix $(BIN)/,$(UPSTREAM) $(OURS))

$(BIN)/kube-apiserver $(BIN)/kube-controller-manager $(BIN)/kubectl: FORCE
	@mkdir -p $(BIN)
	$(GOBUILD) -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

$(BIN)/berth $(BIN)/berth-scheduler $(BIN)/berth-kubelet $(BIN)/berth-etcd: FORCE
	@mkdir -p $(BIN)
	$(GOBUILD) -o $@ ./cmd/$(notdir $@)

FORCE:
